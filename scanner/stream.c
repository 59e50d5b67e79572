/*
 * stream.c - streaming body scan with a bounded overlap.
 *
 * A body arrives in chunks of any size (down to one byte) and is relayed
 * as it arrives, so each chunk must be judged before it is forwarded.  The
 * stream keeps the last SCAN_STREAM_OVERLAP bytes already scanned and scans
 * them again together with the new bytes: a secret up to that long that
 * straddles a chunk boundary is therefore seen whole in one window.  Large
 * chunks are cut into slices so the window, and memory, stay bounded
 * whatever the body size.  Findings carry absolute stream offsets; a match
 * that sits in the overlap and was already reported is not reported again.
 */
#include <stdlib.h>
#include <string.h>

#include "scanner/dlp.h"

#define STREAM_SLICE	(64 * 1024)	/* new bytes scanned per window */
#define STREAM_SEEN	64		/* reported findings remembered */

struct stream_key {
	const char	*scanner;
	const char	*pattern;
	size_t		 offset;
	char		 reason[48];	/* secrets have no pattern name */
};

struct scan_stream {
	const struct scanner	*sc;
	enum scan_where		 where;
	char			*win;	/* overlap + slice */
	size_t			 tail;	/* overlap bytes at win[0] */
	size_t			 start;	/* stream offset of win[0] */
	size_t			 used;	/* win bytes ever written: wiped at free */
	int			 blocked;
	struct scan_result	 verdict;	/* the findings that blocked */
	struct stream_key	 seen[STREAM_SEEN];
	size_t			 nseen;
};

struct scan_stream *
scan_stream_new(const struct scanner *sc, enum scan_where where)
{
	struct scan_stream *st;

	if (sc == NULL || (st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->win = malloc(SCAN_STREAM_OVERLAP + STREAM_SLICE)) == NULL) {
		free(st);
		return NULL;
	}
	st->sc = sc;
	st->where = where;
	return st;
}

void
scan_stream_free(struct scan_stream *st)
{
	if (st == NULL)
		return;
	/* Most bodies are scanned in place: wipe what was copied, not 68 KiB. */
	if (st->win != NULL)
		explicit_bzero(st->win, st->used);
	free(st->win);
	free(st);
}

/* Report f (absolute offset) unless this stream already did. */
static void
stream_report(struct scan_stream *st, const struct scan_finding *f,
    size_t abs, struct scan_result *res)
{
	struct stream_key *k;
	struct scan_finding *nf;
	size_t i, n = st->nseen < STREAM_SEEN ? st->nseen : STREAM_SEEN;

	for (i = 0; i < n; i++) {
		k = &st->seen[i];
		if (k->scanner == f->scanner && k->pattern == f->pattern &&
		    k->offset == abs &&
		    strncmp(k->reason, f->reason, sizeof(k->reason) - 1) == 0)
			return;
	}
	k = &st->seen[st->nseen++ % STREAM_SEEN];
	k->scanner = f->scanner;
	k->pattern = f->pattern;
	k->offset = abs;
	strncpy(k->reason, f->reason, sizeof(k->reason) - 1);
	k->reason[sizeof(k->reason) - 1] = '\0';
	if (!f->warn_only)
		res->blocked = 1;
	if (res->nfindings >= SCAN_MAX_FINDINGS) {
		res->ndropped++;
		return;
	}
	nf = &res->findings[res->nfindings++];
	*nf = *f;
	nf->offset = abs;
}

/*
 * Scan the window w[0..wlen) (st->win, or the caller's bytes when they
 * already hold the overlap and the new slice contiguously) and keep its
 * last SCAN_STREAM_OVERLAP bytes in st->win.
 */
static int
stream_window(struct scan_stream *st, const char *w, size_t wlen,
    struct scan_result *res)
{
	struct scan_result tmp;
	size_t keep;
	unsigned i;
	int rc;

	rc = scanner_check_text(st->sc, w, wlen, st->where, &tmp);
	for (i = 0; i < tmp.nfindings; i++)
		stream_report(st, &tmp.findings[i],
		    st->start + tmp.findings[i].offset, res);
	res->ndropped += tmp.ndropped;
	if (rc == -1 || res->blocked) {
		st->blocked = 1;
		st->verdict = *res;
		return rc == -1 ? -1 : 1;
	}
	keep = wlen < SCAN_STREAM_OVERLAP ? wlen : SCAN_STREAM_OVERLAP;
	memmove(st->win, w + wlen - keep, keep);
	if (st->used < keep)
		st->used = keep;
	st->start += wlen - keep;
	st->tail = keep;
	return 0;
}

int
scan_stream_feed(struct scan_stream *st, const char *buf, size_t len,
    struct scan_result *res)
{
	size_t n, done;
	int rc;

	scan_result_reset(res);
	if (st->blocked) {
		*res = st->verdict;
		return 1;
	}
	if (buf == NULL && len > 0) {
		/* A caller bug must not let the body through unscanned. */
		scan_result_add(res, "error", NULL, NULL, st->where, st->start,
		    1.0, 0, NULL, 0, "stream scan error: no buffer");
		st->blocked = 1;
		st->verdict = *res;
		return -1;
	}
	/*
	 * The windows are the same whichever memory holds them: only a slice
	 * that follows an overlap kept from an earlier feed is copied behind
	 * it.  An empty overlap (a body's first feed) or one that is the
	 * caller's own preceding bytes (later slices of one large feed) is
	 * scanned where it lies, sparing a copy of every byte.
	 */
	for (done = 0; done < len; done += n) {
		n = len - done < STREAM_SLICE ? len - done : STREAM_SLICE;
		if (st->tail == 0)
			rc = stream_window(st, buf + done, n, res);
		else if (done >= st->tail)
			rc = stream_window(st, buf + done - st->tail,
			    st->tail + n, res);
		else {
			memcpy(st->win + st->tail, buf + done, n);
			if (st->used < st->tail + n)
				st->used = st->tail + n;
			rc = stream_window(st, st->win, st->tail + n, res);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
scan_stream_finish(struct scan_stream *st, struct scan_result *res)
{
	scan_result_reset(res);
	if (st->blocked) {
		*res = st->verdict;
		return 1;
	}
	/* Every byte was scanned when it was fed: nothing is pending. */
	return 0;
}
