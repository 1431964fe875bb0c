"""Labs as people use them: life cycle, API, pages, consumers, admin and commands."""
