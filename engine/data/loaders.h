/* loaders.h — readers for the data people bring (Amazon 2014/2018/2023, Yelp, RecBole atomic
 * files, a plain TSV/JSONL pair) into an sp_raw; internal to the engine. Every reader takes
 * plain or gzip'd files, CRLF, a UTF-8 BOM and lines of any length. */
#ifndef SPRINT_DATA_LOADERS_H
#define SPRINT_DATA_LOADERS_H

#include "raw.h"
#include "textio.h"

/* Each loader reads its events file (a) and, when b is not NULL, its item-text file (b)
 * after it, adding to r; o may be NULL (defaults: fail on the first bad line).
 *
 * A bad line is reported as "PATH:LINE: what (cause)" (SP_EFORMAT) or, with skip_bad_lines,
 * counted in r->bad[cause] and skipped; r->lines_read counts every line read, headers and
 * blank lines included (blank lines are otherwise ignored). An empty file (no non-blank
 * line) is a bad line too. An events file that yields no event is an error even when
 * skipping. A missing or unreadable file is SP_EIO naming the path. Item text for items that
 * have no event is stored all the same (the pipeline drops and counts it); empty strings
 * are not stored. Text fields and ids are trimmed of surrounding whitespace.
 *
 * Times are UTC seconds; a time before 1970 or after 9999 is a bad time. */

/* Amazon 2014 (McAuley): a = reviews_*.json (JSON lines: reviewerID, asin, unixReviewTime),
 * b = meta_*.json whose lines are Python literals (asin, title, brand, categories: a list of
 * category paths, flattened in order, deduplicated); a meta line that is not a Python
 * literal but is JSON is read as JSON. Lines in the 2018/2023 layouts are read as well. */
int sp_load_amazon2014(sp_raw *r, const char *reviews, const char *meta, const sp_load_opts *o);

/* Amazon 2018 and 2023 JSONL, the layout detected per line from the field names:
 *   reviews 2018: reviewerID, asin, unixReviewTime (seconds)
 *   reviews 2023: user_id, parent_asin (else asin), timestamp (milliseconds)
 *   meta 2018: asin, title, brand, category (list)
 *   meta 2023: parent_asin, title, store (the brand), categories (list) */
int sp_load_amazon_jsonl(sp_raw *r, const char *reviews, const char *meta, const sp_load_opts *o);

/* Yelp Open Dataset: a = review.json (user_id, business_id, date "YYYY-MM-DD HH:MM:SS" read
 * as UTC), b = business.json (business_id, name as the title, categories as one
 * comma-separated string, or null). */
int sp_load_yelp(sp_raw *r, const char *reviews, const char *business, const sp_load_opts *o);

/* RecBole atomic files, tab-separated with a typed header (name:type, type one of token,
 * token_seq, float, float_seq; columns in any order, others ignored):
 *   a = .inter: item_id, timestamp, and session_id (events_are_sessions) or user_id
 *   b = .item: item_id and any of title (or movie_title, item_name, name), brand (or store),
 *       categories (or category, genre, genres). A token_seq of categories splits at ','
 *       if it has one, else at '|', else at spaces (RecBole's separator); quotes around a
 *       piece are dropped.
 * Header problems other than an unknown type (a missing required column, a duplicate
 * column) are errors even when skipping; an unknown type is a bad line and, when skipping,
 * its column is ignored. */
int sp_load_recbole(sp_raw *r, const char *inter, const char *item, const sp_load_opts *o);

/* A plain pair, TSV or JSONL (chosen from the first non-space byte: '{' is JSONL):
 *   a = sessions: session_id, item_id, timestamp (integer seconds or "YYYY-MM-DD[ HH:MM:SS]";
 *       in JSONL a number or a string); TSV has a header naming the columns (any order);
 *       sets events_are_sessions
 *   b = items: item_id, title, brand, categories ('|'-separated in TSV; in JSONL an array of
 *       strings or a '|'-separated string). */
int sp_load_plain(sp_raw *r, const char *sessions, const char *items, const sp_load_opts *o);

/* By format name: "amazon2014", "amazon" (2018/2023 JSONL), "yelp", "recbole", "plain". */
int sp_load_format(sp_raw *r, const char *format, const char *path_a, const char *path_b,
                   const sp_load_opts *o);

/* The same loaders over already-open readers (b may be NULL): what the file versions call,
 * and what the fuzz targets drive from memory. */
int sp_load_amazon2014_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o);
int sp_load_amazon_jsonl_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o);
int sp_load_yelp_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o);
int sp_load_recbole_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o);
int sp_load_plain_lines(sp_raw *r, sp_lines *a, sp_lines *b, const sp_load_opts *o);

#endif
