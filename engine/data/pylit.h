/* pylit.h — a parser for Python literals (what repr()/str() of dicts, lists and strings
 * print, as in the Amazon 2014 metadata files) into a cJSON tree, so that one field
 * extraction serves JSON lines and Python-literal lines alike. */
#ifndef SPRINT_DATA_PYLIT_H
#define SPRINT_DATA_PYLIT_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Parses exactly one literal in s[0, len) (surrounding whitespace allowed). Returns the tree
 * (free with cJSON_Delete) or NULL with a message like "unterminated string at column 12"
 * in err (err_cap bytes, may be 0).
 *
 * Accepted: str with ' or " quotes and u/r/b prefixes (any case, ur/br/rb), adjacent strings
 * concatenated, every escape of Python (\\ \' \" \a \b \f \n \r \t \v \ooo \xhh \uXXXX
 * \UXXXXXXXX; unknown escapes keep the backslash); int (decimal, 0x, 0o, 0b, '_' between
 * digits, Python 2's L suffix), float, unary + and -, True / False / None, list, tuple,
 * parenthesised values, dict (str or number keys; the last duplicate wins when fields are
 * read, as in Python), set (as an array), trailing commas. Lists, tuples and sets become
 * arrays; numbers become doubles.
 *
 * Byte escapes: Python 2 wrote non-ASCII bytes of its byte strings as \xhh (the 2014 files
 * are Python 2 output), so in unprefixed and b'' strings a run of \xhh / \ooo escapes that
 * forms valid UTF-8 is taken as those bytes, and any other byte as the code point U+00hh
 * (Python 3's reading). In u'' strings \xhh is always the code point. \u surrogate pairs
 * combine; a lone surrogate becomes U+FFFD.
 *
 * Rejected: raw newlines inside a string (a line holds one literal), backslash-newline,
 * triple quotes, \N{...}, complex numbers, names other than True/False/None (set(), inf,
 * nan, ...), the NUL character (cJSON strings end at NUL), nesting deeper than 256, and any
 * trailing text. */
cJSON *sp_pylit_parse(const char *s, size_t len, char *err, size_t err_cap);

/* The same, printed as compact JSON text (free with free()); NULL with err set on failure.
 * For tests and tools that do not link cJSON themselves. */
char *sp_pylit_to_json(const char *s, size_t len, char *err, size_t err_cap);

#endif
