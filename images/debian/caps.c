/* Preloaded into FRR's daemons (see wirelab-init): each asks at start for a fixed set of
 * capabilities, CAP_SYS_ADMIN among them (for namespace-based VRFs only), and exits when the
 * kernel refuses. A node is never given CAP_SYS_ADMIN, so this asks only for the capabilities
 * the node's container holds and leaves the rest out. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/prctl.h>

typedef void *cap_t;
typedef int cap_value_t;
enum { FLAG_EFFECTIVE = 0, FLAG_INHERITABLE = 2, VALUE_CLEAR = 0, LAST_CAP = 63 };

int cap_set_proc(cap_t caps)
{
    int (*set_proc)(cap_t) = (int (*)(cap_t))dlsym(RTLD_NEXT, "cap_set_proc");
    int (*set_flag)(cap_t, int, int, const cap_value_t *, int) =
        (int (*)(cap_t, int, int, const cap_value_t *, int))dlsym(RTLD_NEXT, "cap_set_flag");
    for (cap_value_t cap = 0; cap <= LAST_CAP; cap++) {
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
            continue;
        for (int flag = FLAG_EFFECTIVE; flag <= FLAG_INHERITABLE; flag++)
            set_flag(caps, flag, 1, &cap, VALUE_CLEAR);
    }
    return set_proc(caps);
}
