/*
 * fits.h - every HDU's header from a FITS file or a header dump.
 *
 * Reads plain, tile-compressed (.fz) and gzipped (.gz) FITS through cfitsio,
 * and header-dump text files (*.fits.header: 80-column cards, newline
 * separated or not). A dump one card a line is cut into HDUs as the
 * reference reads it (caom2utils _clean_headers): at END cards, at
 * Gemini/AstroData markers ("--- PHU ---", "--- HDU n ---") and at the end
 * of the file, so a missing END is no error; an HDU without cards is none,
 * and lines with no '=' other than COMMENT/HISTORY are dropped. Cards are kept raw in
 * file order; nothing is interpreted beyond value parsing, and values are
 * read back either as text and numbers or typed as astropy types them (the
 * view the mapping engine has of a header).
 */
#ifndef CAOM2INGEST_FITS_H
#define CAOM2INGEST_FITS_H

#include <stddef.h>

enum fits_vtype {
	FITS_NOVALUE,		/* COMMENT, HISTORY, blank, or KEY without '= ' */
	FITS_STRING,		/* 'quoted' (value holds the unquoted text, trailing blanks removed, '' -> ') */
	FITS_LOGICAL,		/* T or F (value holds "T" or "F") */
	FITS_INTEGER,		/* value holds the digits as written */
	FITS_FLOAT,		/* value holds the number as written (D exponents kept) */
	FITS_COMPLEX,		/* (re, im) as written */
	FITS_UNDEFINED		/* KEY = with an empty value */
};

struct fits_card {
	char		*key;		/* keyword, upper case, trailing blanks removed */
	char		*value;		/* parsed value text, NULL for FITS_NOVALUE/UNDEFINED */
	char		*comment;	/* comment text or NULL */
	enum fits_vtype	 type;
};

struct strmap;

struct fits_hdu {
	int		  index;	/* 0 for the primary HDU */
	struct fits_card *cards;
	size_t		  ncards;
	size_t		  cap_;		/* allocated cards */
	struct strmap	 *index_;	/* lookup cache, built by fits_hdu_find */
	struct fits_file *file_;	/* owner of the card strings */
};

struct fits_arena;

struct fits_file {
	char		  *path;
	struct fits_hdu	  *hdus;
	size_t		   nhdus;
	struct fits_arena *arena_;	/* the card strings (private) */
};

/*
 * A header value typed as astropy types it: what the reference mapping
 * (caom2utils) sees of a card. Logical cards are booleans, integer cards
 * integers, float cards floats; everything else (strings, complex and
 * malformed values) is text.
 */
enum fits_htype {
	FITS_H_STR,		/* s */
	FITS_H_INT,		/* i, and d = (double)i */
	FITS_H_FLOAT,		/* d (NaN when the text is no number) */
	FITS_H_BOOL		/* b */
};

struct fits_hval {
	enum fits_htype	 t;
	const char	*s;		/* FITS_H_STR: the card's text (lives as long as the file) */
	double		 d;
	long long	 i;
	int		 b;
};

/* Read all headers of path (FITS or header dump, detected by content). 0 or -1 with *cause. */
int fits_read(const char *path, struct fits_file **out, char **cause);
/* Read a header dump from memory (name is used in messages). 0 or -1 with *cause. */
int fits_read_dump(const char *name, const char *buf, size_t len, struct fits_file **out,
    char **cause);
/* Does the name say FITS or a header dump (.fits .fit .fz .fits.gz .header ...)? */
int fits_name_is_fits(const char *path);
/*
 * Has a FITS file being written got its whole primary header? 0 when the
 * file starts like an uncompressed FITS file ("SIMPLE  =") but holds no END
 * card yet; 1 otherwise (complete, or not such a file: the mapping decides
 * what it is); -1 with errno when it cannot be read.
 */
int fits_header_complete(const char *path);
/* Free a file read by fits_read; NULL is accepted. */
void fits_file_free(struct fits_file *f);
/* The first card named key in hdu, or NULL. */
const struct fits_card *fits_hdu_find(const struct fits_hdu *hdu, const char *key);
/* The value of key in hdu as a string, or NULL when absent or valueless. */
const char *fits_hdu_value(const struct fits_hdu *hdu, const char *key);
/* Numeric value of key (integer, float, or a numeric string); 0 found, -1 not. */
int fits_hdu_double(const struct fits_hdu *hdu, const char *key, double *out);
/* Integer value of key; 0 found, -1 not. */
int fits_hdu_long(const struct fits_hdu *hdu, const char *key, long long *out);
/* Data array shape per NOTES.md: ZNAXIS/ZNAXISn before NAXIS/NAXISn. Returns naxis (0 = no data). */
int fits_hdu_naxis(const struct fits_hdu *hdu, long long *naxisn, int max);
/* True when the HDU has a data array (naxis > 0, every axis > 0, BITPIX/ZBITPIX != 0). */
int fits_hdu_has_data(const struct fits_hdu *hdu);
/* Set key's value (first card of that name, else a new card at the end). */
void fits_hdu_set(struct fits_hdu *hdu, const char *key, enum fits_vtype type, const char *value);
/* The value of key in hdu (NULL accepted) typed as above; 0, or -1 when absent or valueless. */
int fits_hdu_typed(const struct fits_hdu *hdu, const char *key, struct fits_hval *v);
/* Python's truth of a value: true, non-zero, non-empty. */
int fits_hval_truthy(const struct fits_hval *v);
/* Python's str() of a value ("True", "12", "1.5e-05", the text); numbers are written into buf. */
const char *fits_hval_str(const struct fits_hval *v, char buf[40]);
/*
 * A number as FITS writes it (blanks around it, a D exponent after a digit)
 * into *out; 0, or -1 when s is not wholly one number.
 */
int fits_parse_double(const char *s, double *out);
/*
 * Set key from text as the reference's _set_by_type types it: digits only
 * and not 0, an integer; any other number but 0 (or one starting "0."), a
 * float (written %.17g, with ".0" when that has no point); the rest a string.
 */
void fits_hdu_set_typed(struct fits_hdu *hdu, const char *key, const char *value);
/*
 * The header as 80-column records without END (what wcspih reads): cards
 * with a value and a key of at most 8 characters, re-rendered from the
 * parsed values. *ncards receives the record count. Free the result.
 */
char *fits_hdu_records(const struct fits_hdu *hdu, int *ncards);
/*
 * The string values of column of the BINTABLE in HDU hdu (0-based) of a
 * FITS file: 0, or -1 with *cause and nothing in *values.
 */
int fits_read_column(const char *path, int hdu, const char *column, char ***values,
    size_t *nvalues, char **cause);

#endif
