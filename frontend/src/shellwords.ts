// A container's command as one line of text and back: a list is shown with POSIX shell quoting
// and split back the same way, so showing and saving it unchanged gives the same list.
// (shell-quote, the npm package, expands `$VAR` and turns `&&` into objects: a command's words
// must stay literal, so the few rules needed are here.)

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word as a shell reads it back: as it is when safe, else in single quotes. */
export function quoteWord(word: string): string {
  if (word !== "" && SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'"'"'`)}'`;
}

export function quoteWords(words: string[]): string {
  return words.map(quoteWord).join(" ");
}

export interface SplitWords {
  words: string[];
  shell: boolean; // unquoted `&&`, `|`, `>`, `$VAR`, `*`...: the line means a shell's syntax
}

/** Split a line into words as a POSIX shell does (quotes and backslashes, nothing expanded);
 *  throws with a sentence when a quote is left open. */
export function splitWords(line: string): SplitWords {
  const words: string[] = [];
  let shell = false;
  let word = "";
  let inWord = false;
  const end = () => {
    if (!inWord) return;
    words.push(word);
    word = "";
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === " " || c === "\t" || c === "\n") {
      end();
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw new Error("a single quote is left open");
      word += line.slice(i + 1, close);
      inWord = true;
      i = close;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length && '"\\$`'.includes(line[j + 1])) j++;
        word += line[j];
      }
      if (j >= line.length) throw new Error("a double quote is left open");
      inWord = true;
      i = j;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else {
      if (/[;&|<>$`*?()]/.test(c)) shell = true; // unquoted: an operator, a variable, a glob
      word += c;
      inWord = true;
    }
  }
  end();
  return { words, shell };
}

/** The command field's text for a node's command (a list quoted, a string as it is). */
export function commandText(command: string | string[] | null | undefined): string {
  if (Array.isArray(command)) return quoteWords(command);
  return command ?? "";
}

/** The command a field's new text means, given the one it showed: a list stays a list, a
 *  string stays a string, a new command is a list unless it uses a shell's syntax (then the
 *  text, which the node runs with `sh -c`). */
export function commandFrom(text: string, before: string | string[] | null | undefined): string | string[] | null {
  if (text === commandText(before)) return before ?? null;
  if (!text.trim()) return null;
  if (typeof before === "string") return text;
  const { words, shell } = splitWords(text);
  return shell ? text.trim() : words;
}
