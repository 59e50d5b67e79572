/*
 * url.h - scanner-internal: URL parsing as Go's net/url does it (what
 * pipelock scans), the early URL layers (CRLF, path traversal), and the
 * enumeration of the decoded "targets" the DLP layers match.
 *
 * Pure: no allocation, no I/O.  A parsed URL points into the caller's raw
 * bytes; everything decoded is written into caller-provided scratch
 * buffers (struct url_scratch), so a URL check costs no malloc.
 */
#ifndef PIPELOCK_SCANNER_URL_H
#define PIPELOCK_SCANNER_URL_H

#include <stddef.h>

#include "scanner/cidr.h"
#include "scanner/scanner.h"

/* Hostnames longer than this are refused by the parser (DNS allows 253). */
#define URL_HOST_MAX		1024
/* Iterative %-decoding stops at a fixpoint or after this many rounds. */
#define URL_DECODE_ROUNDS	500
/* Path segments shorter than this are not tried as hex/base64/base32. */
#define URL_SEGMENT_DECODE_MIN	10
/* Seed-phrase decoding of path segments starts at this length. */
#define URL_SEED_SEGMENT_MIN	20
/* Path segments / query keys and values entropy-checked from this length. */
#define URL_ENTROPY_MIN_LEN	20
/* Split-secret search: ordered combinations of the first N query values. */
#define URL_COMBO_VALUES	20
#define URL_COMBO_MIN		2
#define URL_COMBO_MAX		4
#define URL_COMBO_MIN_VALUES	3	/* fewer values: no combinations */

/* Scratch: URL_SCRATCH_BUFS buffers of url_scratch_cap(len) bytes each. */
#define URL_SCRATCH_BUFS	5
#define URL_SCRATCH_SLACK	64	/* canonical IPv4 may outgrow its alt form */

struct url {
	const char	*raw;
	size_t		 len;
	size_t		 scheme_len;	/* raw[0..scheme_len) */
	int		 opaque;	/* "scheme:x" without "//" or "/" */
	size_t		 host_off;	/* raw host text (no brackets, no port) */
	size_t		 host_raw_len;
	char		 host[URL_HOST_MAX];	/* Hostname(): unescaped, lower, canonical */
	size_t		 hostlen;
	enum ip_form	 ipform;	/* host as an IP literal */
	struct ipaddr	 ip;
	size_t		 path_off;	/* raw (escaped) path */
	size_t		 path_len;
	int		 has_query;
	size_t		 query_off;	/* RawQuery, without '?' */
	size_t		 query_len;
};

struct url_scratch {
	char	*buf[URL_SCRATCH_BUFS];
	size_t	 cap;
};

/* Per-buffer capacity url_scratch needs for a URL of len bytes. */
#define url_scratch_cap(len)	((len) + URL_SCRATCH_SLACK)

/*
 * Called for each target; returns 0 to go on, 1 to stop (a blocking
 * finding), -1 on error.  The bytes are only valid during the call.
 */
struct url_target_cb {
	int	(*fn)(void *ctx, const char *s, size_t n, enum scan_where where);
	void	*ctx;
};

/*
 * Parse like Go's url.Parse: control bytes, a bad %-escape in the path or
 * fragment, an invalid host character or port, a missing ']' are errors.
 * The hostname is lowercased and an alternative IPv4 notation is replaced
 * by its dotted-decimal form.  Returns 0, -1 on error.
 */
int url_parse(const char *raw, size_t len, struct url *u);

/* 1 if the scheme is http or https (case-insensitively, as Go lowercases). */
int url_scheme_ok(const struct url *u);

/* pipelock's CRLF layer: its reason string, or NULL if clean. */
const char *url_crlf(const char *raw, size_t len);
/* pipelock's path traversal layer: its reason string, or NULL if clean. */
const char *url_traversal(const struct url *u);

/*
 * The URL as pipelock scans it whole (parsed.String()): the raw bytes with
 * a canonicalised IPv4 host substituted.  Returns a pointer to raw or to
 * out (url_scratch_cap(len) bytes) and sets *n.
 */
const char *url_full(const struct url *u, char *out, size_t *n);

/*
 * Iterative %-decoding with '+' as space (QueryUnescape until fixpoint,
 * at most URL_DECODE_ROUNDS).  Returns in unchanged when nothing decodes,
 * else out (len bytes); sets *n.
 */
const char *url_unescape_iter(const char *in, size_t len, char *out,
    size_t *n);

/* The DLP targets of pipelock's checkDLP, in its order (see url.c). */
int url_dlp_targets(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb);
/* Ordered 2..4 combinations of the first URL_COMBO_VALUES query values. */
int url_query_combos(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb);
/* BIP-39 seed phrase targets. */
int url_seed_targets(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb);
/* Known-secret targets: the full URL and its iterative decode. */
int url_secret_targets(const struct url *u, const struct url_scratch *s,
    const struct url_target_cb *cb);

enum url_entropy_kind {
	URL_ENTROPY_NONE = 0,
	URL_ENTROPY_PATH,
	URL_ENTROPY_QUERY_KEY,
	URL_ENTROPY_QUERY_VALUE,
};

struct url_entropy_hit {
	enum url_entropy_kind	 kind;
	double			 entropy;
	const char		*item;		/* segment / key / value */
	size_t			 item_len;
	const char		*key;		/* the value's key */
	size_t			 key_len;
};

/*
 * pipelock's checkEntropy: decoded path segments (unless skip_path) and
 * once-decoded query keys and values of at least URL_ENTROPY_MIN_LEN bytes
 * with entropy > threshold.  hit's pointers are into scratch buffers 0/1
 * or the URL.  Returns 1 on a hit, else 0.
 */
int url_entropy(const struct url *u, const struct url_scratch *s,
    double threshold, int skip_path, struct url_entropy_hit *hit);

#endif
