/*
 * promcheck.c - strict Prometheus text format 0.0.4 checker (see
 * promcheck.h).  Test code: quadratic where that keeps it short.
 */
#include "promcheck.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PC_MAX_LABELS	32
#define PC_MAX_KEY	2048

enum pc_kind {
	PC_PLAIN = 0,
	PC_BUCKET,
	PC_SUM,
	PC_COUNT,
};

struct pc_family {
	char	name[256];
	char	type[16];
	int	help, typed, closed;
};

struct pc_hist {
	char		base[PC_MAX_KEY];	/* labels without le */
	enum pc_kind	kind;
	double		le, value;
	long		line;
};

struct pc {
	struct pc_family *fam;
	size_t		 nfam, capfam;
	char		**keys;
	size_t		 nkeys, capkeys;
	struct pc_hist	*hist;
	size_t		 nhist, caphist;
	long		 cur;		/* family of the last sample, -1 none */
	long		 line;
	char		*err;
	size_t		 errlen;
};

__attribute__((format(printf, 2, 3))) static int
pc_fail(struct pc *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "line %ld: %s", p->line, msg);
	return -1;
}

static int
is_name_char(char c, int first, int colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (colon && c == ':'))
		return 1;
	return !first && c >= '0' && c <= '9';
}

/* Length of the name at s (0: none). */
static size_t
name_len(const char *s, size_t n, int colon)
{
	size_t i = 0;

	while (i < n && is_name_char(s[i], i == 0, colon))
		i++;
	return i;
}

static long
fam_find(struct pc *p, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < p->nfam; i++)
		if (strlen(p->fam[i].name) == n &&
		    memcmp(p->fam[i].name, name, n) == 0)
			return (long)i;
	return -1;
}

static long
fam_get(struct pc *p, const char *name, size_t n)
{
	long i = fam_find(p, name, n);

	if (i >= 0)
		return i;
	if (n >= sizeof(p->fam[0].name))
		return -1;
	if (p->nfam == p->capfam) {
		p->capfam = p->capfam ? 2 * p->capfam : 64;
		p->fam = realloc(p->fam, p->capfam * sizeof(*p->fam));
		if (p->fam == NULL)
			abort();
	}
	memset(&p->fam[p->nfam], 0, sizeof(p->fam[0]));
	memcpy(p->fam[p->nfam].name, name, n);
	return (long)p->nfam++;
}

static int
parse_value(const char *s, size_t n, double *v)
{
	char tmp[64], *end;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (strcmp(tmp, "+Inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcmp(tmp, "-Inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (strcmp(tmp, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	/* strtod also takes "inf", "nan" and hex: Prometheus does not */
	if (strpbrk(tmp, "xXiInN") != NULL)
		return -1;
	*v = strtod(tmp, &end);
	return *end == '\0' ? 0 : -1;
}

/* Finish the histogram family whose samples were gathered in p->hist. */
static int
hist_finish(struct pc *p)
{
	size_t i, j;
	double last_le, last_cnt;
	int nb, has_sum, has_count;
	double cnt;

	for (i = 0; i < p->nhist; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(p->hist[j].base, p->hist[i].base) == 0)
				break;
		if (j < i)
			continue;	/* group already checked */
		last_le = -INFINITY;
		last_cnt = -1;
		nb = has_sum = has_count = 0;
		cnt = -1;
		for (j = i; j < p->nhist; j++) {
			struct pc_hist *h = &p->hist[j];

			if (strcmp(h->base, p->hist[i].base) != 0)
				continue;
			p->line = h->line;
			if (h->kind == PC_BUCKET) {
				if (nb > 0 && !(h->le > last_le))
					return pc_fail(p, "le not increasing");
				if (h->value < last_cnt)
					return pc_fail(p, "bucket count "
					    "decreases");
				last_le = h->le;
				last_cnt = h->value;
				nb++;
			} else if (h->kind == PC_SUM)
				has_sum++;
			else if (h->kind == PC_COUNT) {
				has_count++;
				cnt = h->value;
			}
		}
		p->line = p->hist[i].line;
		if (nb == 0 || !isinf(last_le))
			return pc_fail(p, "histogram {%s}: no +Inf bucket",
			    p->hist[i].base);
		if (has_sum != 1 || has_count != 1)
			return pc_fail(p, "histogram {%s}: _sum/_count missing "
			    "or repeated", p->hist[i].base);
		if (cnt != last_cnt)
			return pc_fail(p, "histogram {%s}: +Inf %g != _count %g",
			    p->hist[i].base, last_cnt, cnt);
	}
	p->nhist = 0;
	return 0;
}

static int
label_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
parse_sample(struct pc *p, const char *s, size_t n)
{
	char lab[PC_MAX_LABELS][512], *sorted[PC_MAX_LABELS];
	char key[PC_MAX_KEY], base[PC_MAX_KEY], le_txt[64] = "";
	size_t nl = 0, i = 0, k, vl, o;
	size_t nlen = name_len(s, n, 1);
	long f;
	enum pc_kind kind = PC_PLAIN;
	double v, le = 0;
	int has_le = 0;
	const char *suffix;

	if (nlen == 0)
		return pc_fail(p, "bad metric name");
	i = nlen;
	if (i < n && s[i] == '{') {
		i++;
		while (i < n && s[i] != '}') {
			k = name_len(s + i, n - i, 0);
			if (k == 0)
				return pc_fail(p, "bad label name");
			if (k >= 2 && s[i] == '_' && s[i + 1] == '_')
				return pc_fail(p, "reserved label name");
			if (nl == PC_MAX_LABELS)
				return pc_fail(p, "too many labels");
			if (k + 2 >= sizeof(lab[0]))
				return pc_fail(p, "label name too long");
			memcpy(lab[nl], s + i, k);
			o = k;
			lab[nl][o++] = '=';
			i += k;
			if (i + 1 >= n || s[i] != '=' || s[i + 1] != '"')
				return pc_fail(p, "expected =\" after label");
			i += 2;
			vl = o;
			while (i < n && s[i] != '"') {
				if (s[i] == '\\') {
					if (i + 1 >= n || (s[i + 1] != '\\' &&
					    s[i + 1] != '"' && s[i + 1] != 'n'))
						return pc_fail(p, "bad escape "
						    "in label value");
					if (o + 2 >= sizeof(lab[0]))
						return pc_fail(p, "label value "
						    "too long");
					lab[nl][o++] = s[i++];
				} else if (s[i] == '\n' || (unsigned char)s[i] < 0x20)
					return pc_fail(p, "control character "
					    "in label value");
				if (o + 2 >= sizeof(lab[0]))
					return pc_fail(p, "label value too "
					    "long");
				lab[nl][o++] = s[i++];
			}
			if (i >= n)
				return pc_fail(p, "unterminated label value");
			lab[nl][o] = '\0';
			i++;
			if (strncmp(lab[nl], "le=", 3) == 0) {
				has_le = 1;
				snprintf(le_txt, sizeof(le_txt), "%s",
				    lab[nl] + vl);
			}
			for (k = 0; k < nl; k++) {
				size_t a = strcspn(lab[k], "="),
				    b = strcspn(lab[nl], "=");
				if (a == b && memcmp(lab[k], lab[nl], a) == 0)
					return pc_fail(p, "duplicate label");
			}
			nl++;
			if (i < n && s[i] == ',') {
				i++;
				if (i < n && s[i] == '}')
					return pc_fail(p, "trailing comma");
			} else if (i < n && s[i] != '}')
				return pc_fail(p, "expected , or }");
		}
		if (i >= n)
			return pc_fail(p, "unterminated label set");
		i++;
	}
	if (i >= n || s[i] != ' ')
		return pc_fail(p, "expected a space before the value");
	i++;
	k = i;
	while (k < n && s[k] != ' ')
		k++;
	if (parse_value(s + i, k - i, &v) == -1)
		return pc_fail(p, "bad value");
	if (k < n) {
		/* a timestamp: an integer in ms */
		k++;
		if (k == n)
			return pc_fail(p, "trailing space");
		for (o = k; o < n; o++)
			if (!((s[o] >= '0' && s[o] <= '9') ||
			    (o == k && s[o] == '-')))
				return pc_fail(p, "bad timestamp");
	}

	/* which family */
	f = fam_find(p, s, nlen);
	if (f >= 0 && (strcmp(p->fam[f].type, "histogram") == 0 ||
	    strcmp(p->fam[f].type, "summary") == 0))
		return pc_fail(p, "bare sample of a histogram/summary");
	if (f < 0) {
		suffix = NULL;
		if (nlen > 7 && memcmp(s + nlen - 7, "_bucket", 7) == 0) {
			kind = PC_BUCKET;
			suffix = "_bucket";
		} else if (nlen > 4 && memcmp(s + nlen - 4, "_sum", 4) == 0) {
			kind = PC_SUM;
			suffix = "_sum";
		} else if (nlen > 6 && memcmp(s + nlen - 6, "_count", 6) == 0) {
			kind = PC_COUNT;
			suffix = "_count";
		}
		if (suffix != NULL)
			f = fam_find(p, s, nlen - strlen(suffix));
		if (f < 0 || !p->fam[f].typed)
			return pc_fail(p, "sample %.*s without a TYPE line",
			    (int)nlen, s);
		if (strcmp(p->fam[f].type, "histogram") != 0 &&
		    !(strcmp(p->fam[f].type, "summary") == 0 &&
		    kind != PC_BUCKET))
			return pc_fail(p, "suffix of a non-histogram");
	}
	if (!p->fam[f].typed)
		return pc_fail(p, "sample %.*s without a TYPE line",
		    (int)nlen, s);
	if (f != p->cur) {
		if (p->cur >= 0) {
			p->fam[p->cur].closed = 1;
			if (hist_finish(p) == -1)
				return -1;
		}
		if (p->fam[f].closed)
			return pc_fail(p, "samples of %s are not contiguous",
			    p->fam[f].name);
		p->cur = f;
	}
	if (strcmp(p->fam[f].type, "counter") == 0 && (isnan(v) || v < 0))
		return pc_fail(p, "negative or NaN counter");
	if (kind == PC_BUCKET) {
		if (!has_le || parse_value(le_txt, strlen(le_txt), &le) == -1)
			return pc_fail(p, "bucket without a valid le");
		if (isnan(v) || v < 0 || v != floor(v))
			return pc_fail(p, "bad bucket count");
	} else if (has_le && strcmp(p->fam[f].type, "histogram") == 0)
		return pc_fail(p, "le on a non-bucket sample");

	/* duplicate series: name + sorted labels */
	for (k = 0; k < nl; k++)
		sorted[k] = lab[k];
	qsort(sorted, nl, sizeof(sorted[0]), label_cmp);
	o = (size_t)snprintf(key, sizeof(key), "%.*s", (int)nlen, s);
	base[0] = '\0';
	for (k = 0; k < nl && o < sizeof(key); k++) {
		o += (size_t)snprintf(key + o, sizeof(key) - o, "|%s",
		    sorted[k]);
		if (strncmp(sorted[k], "le=", 3) != 0)
			snprintf(base + strlen(base), sizeof(base) -
			    strlen(base), "%s%s", base[0] ? "," : "",
			    sorted[k]);
	}
	if (o >= sizeof(key))
		return pc_fail(p, "series too long");
	for (k = 0; k < p->nkeys; k++)
		if (strcmp(p->keys[k], key) == 0)
			return pc_fail(p, "duplicate series %s", key);
	if (p->nkeys == p->capkeys) {
		p->capkeys = p->capkeys ? 2 * p->capkeys : 256;
		if ((p->keys = realloc(p->keys, p->capkeys *
		    sizeof(*p->keys))) == NULL)
			abort();
	}
	if ((p->keys[p->nkeys++] = strdup(key)) == NULL)
		abort();

	if (kind != PC_PLAIN && strcmp(p->fam[f].type, "histogram") == 0) {
		if (p->nhist == p->caphist) {
			p->caphist = p->caphist ? 2 * p->caphist : 256;
			if ((p->hist = realloc(p->hist, p->caphist *
			    sizeof(*p->hist))) == NULL)
				abort();
		}
		snprintf(p->hist[p->nhist].base, PC_MAX_KEY, "%s", base);
		p->hist[p->nhist].kind = kind;
		p->hist[p->nhist].le = le;
		p->hist[p->nhist].value = v;
		p->hist[p->nhist].line = p->line;
		p->nhist++;
	}
	return 0;
}

static int
parse_comment(struct pc *p, const char *s, size_t n)
{
	int is_help;
	size_t k, i;
	long f;
	const char *t;

	if (n < 7 || (memcmp(s, "# HELP ", 7) != 0 &&
	    memcmp(s, "# TYPE ", 7) != 0))
		return 0;	/* a plain comment */
	is_help = s[2] == 'H';
	k = name_len(s + 7, n - 7, 1);
	if (k == 0)
		return pc_fail(p, "bad name in HELP/TYPE");
	if ((f = fam_get(p, s + 7, k)) < 0)
		return pc_fail(p, "name too long");
	i = 7 + k;
	if (is_help) {
		if (p->fam[f].help++)
			return pc_fail(p, "second HELP for %s", p->fam[f].name);
		if (i < n && s[i] != ' ')
			return pc_fail(p, "bad HELP line");
		for (i++; i < n; i++)
			if (s[i] == '\\' && (i + 1 >= n ||
			    (s[i + 1] != '\\' && s[i + 1] != 'n')))
				return pc_fail(p, "bad escape in HELP");
			else if (s[i] == '\\')
				i++;
		return 0;
	}
	if (p->fam[f].typed)
		return pc_fail(p, "second TYPE for %s", p->fam[f].name);
	if (p->fam[f].closed || p->cur == f)
		return pc_fail(p, "TYPE after samples of %s", p->fam[f].name);
	if (i >= n || s[i] != ' ')
		return pc_fail(p, "bad TYPE line");
	t = s + i + 1;
	k = n - i - 1;
	if (!((k == 7 && memcmp(t, "counter", 7) == 0) ||
	    (k == 5 && memcmp(t, "gauge", 5) == 0) ||
	    (k == 9 && memcmp(t, "histogram", 9) == 0) ||
	    (k == 7 && memcmp(t, "summary", 7) == 0) ||
	    (k == 7 && memcmp(t, "untyped", 7) == 0)))
		return pc_fail(p, "unknown type %.*s", (int)k, t);
	memcpy(p->fam[f].type, t, k);
	p->fam[f].type[k] = '\0';
	p->fam[f].typed = 1;
	return 0;
}

long
promcheck(const char *text, size_t len, char *err, size_t errlen)
{
	struct pc p = { .cur = -1, .err = err, .errlen = errlen };
	size_t i = 0, e;
	long samples = 0, ret = -1;

	err[0] = '\0';
	if (len > 0 && text[len - 1] != '\n') {
		p.line = 0;
		pc_fail(&p, "text does not end with a newline");
		goto cleanup;
	}
	while (i < len) {
		p.line++;
		for (e = i; e < len && text[e] != '\n'; e++)
			if (text[e] == '\r' || text[e] == '\0') {
				pc_fail(&p, "CR or NUL in text");
				goto cleanup;
			}
		if (e == i)
			;	/* empty line */
		else if (text[i] == '#') {
			if (parse_comment(&p, text + i, e - i) == -1)
				goto cleanup;
		} else {
			if (parse_sample(&p, text + i, e - i) == -1)
				goto cleanup;
			samples++;
		}
		i = e + 1;
	}
	if (hist_finish(&p) == -1)
		goto cleanup;
	ret = samples;
cleanup:
	for (i = 0; i < p.nkeys; i++)
		free(p.keys[i]);
	free(p.keys);
	free(p.fam);
	free(p.hist);
	return ret;
}

int
promcheck_has_family(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while ((p = strstr(p, "# TYPE ")) != NULL) {
		p += 7;
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return 1;
	}
	return 0;
}

double
promcheck_value(const char *text, const char *series)
{
	const char *p = text, *sp;
	size_t n = strlen(series);

	while (*p) {
		if (strncmp(p, series, n) == 0 && (sp = strchr(p, ' ')) &&
		    sp < strchrnul(p, '\n'))
			return strtod(sp + 1, NULL);
		p = strchrnul(p, '\n');
		if (*p)
			p++;
	}
	return -1;
}
