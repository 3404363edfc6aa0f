/* Typed values from their YAML text: the one parser and range checker behind
 * a plugin's parameters and the experiment's own keys. Both are described by
 * a dx_param_spec (ddpmx/param.h): a type, a default, and a range, which is
 * an interval such as "[0, 1)" for a number or the words of a choice
 * ("eps|x0|v"). Each caller words its own message from a dx_value_fault,
 * because each names the value in its own way ("train.lr: ...", "parameter
 * 's' of plugin 'cosine' ..."). */
#ifndef DX_UTIL_VALUE_H
#define DX_UTIL_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpmx/param.h"

/* An interval such as "[0, 1)" or "(0, inf)". */
typedef struct dx_range {
  double lo, hi;
  bool lo_open, hi_open;
} dx_range;

/* False if text is not "<[|(> number , number <]|)>" holding some finite
 * number (lo < hi, or [v, v]); the ends may be "inf" / "-inf". */
bool dx_range_parse(const char *text, dx_range *r);
bool dx_range_contains(const dx_range *r, double v);

/* One value, parsed from its YAML text. */
typedef struct dx_value {
  int64_t i; /* INT; CHOICE: the position of the word in the range */
  double f;  /* FLOAT (and INT, converted) */
  bool b;    /* BOOL */
} dx_value;

/* Why a text is not a value of its spec. */
typedef enum dx_value_fault {
  DX_VALUE_OK,
  DX_VALUE_NOT_TYPE,  /* not an integer, a number, true or false */
  DX_VALUE_QUOTED,    /* a quoted string where a number or a bool is wanted */
  DX_VALUE_TOO_LARGE, /* an integer beyond 64 bits */
  DX_VALUE_OUTSIDE,   /* outside the spec's interval */
  DX_VALUE_NOT_CHOICE /* not one of the spec's words */
} dx_value_fault;

/* Reads text as a value of s->type and checks it against s->range.
 * - INT: decimal digits with an optional sign.
 * - FLOAT: a finite decimal number ("2e-4", ".5", "1"). Hexadecimal ("0x1p-3"),
 *   inf and nan are refused: YAML 1.2 reads a hex float as a string, and no
 *   parameter means anything at infinity.
 * - BOOL: true or false in YAML 1.2's spellings (True, FALSE, ...); yes, no,
 *   on and off are strings.
 * - STRING: any text; CHOICE: one of the words, exactly.
 * A quoted scalar is a string in YAML, so `quoted` refuses it for INT, FLOAT
 * and BOOL rather than guess. */
dx_value_fault dx_value_read(const dx_param_spec *s, const char *text, bool quoted, dx_value *v);

/* "an integer", "a number", "true or false", "a string", "one of" for
 * messages; "" for an unknown type. */
const char *dx_param_type_phrase(dx_param_type type);
/* "int", "float", ... for tables; NULL for an unknown type. */
const char *dx_param_type_name(dx_param_type type);

/* Checks a spec's range and default: an interval that parses for a number,
 * words for a choice, no range otherwise, and a default that is a value of
 * the spec. False with the reason ("parameter 'NAME': ...") in err. */
bool dx_param_spec_check_value(const dx_param_spec *s, char *err, size_t errlen);

/* The shortest decimal that reads back as exactly f: 2e-4 is "0.0002", not
 * "0.00020000000000000001". */
void dx_float_text(double f, char *buf, size_t len);

/* --- word lists ------------------------------------------------------------------------ */

/* The words of a choice, separated by '|': "eps|x0|v". An enum whose values
 * count up from 0 declares its list beside it, in the order of its values, so
 * that the position of a word is the value it names. */

/* The position of word in words, or -1. */
int dx_words_find(const char *words, const char *word);
/* The i-th word into buf; NULL if there is none. */
const char *dx_words_at(const char *words, int i, char *buf, size_t len);
/* Copies words into buf with each word ended by '\0', points out[] at them
 * (max at most) and returns how many there are. */
size_t dx_words_split(const char *words, char *buf, size_t len, const char **out, size_t max);
/* "eps, x0, v" into buf. */
const char *dx_words_list(const char *words, char *buf, size_t len);
/* The word a misspelt `word` most likely means (util/suggest.h) into buf, or
 * NULL. */
const char *dx_words_suggest(const char *words, const char *word, char *buf, size_t len);

#endif
