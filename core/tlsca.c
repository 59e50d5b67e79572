/*
 * tlsca.c - the interception CA: `pipelock-fw tls init` creates it,
 * `pipelock-fw tls install-ca` puts it into the Debian trust store, and
 * tlsca_load() hands it to the engine (which loads it before dropping
 * privileges, so the key can stay root-only).
 *
 * The key file is created with O_CREAT|O_EXCL and mode 0600 in one call:
 * it is never readable by anyone else, not even for a moment, and an
 * existing key is never silently replaced (--force unlinks it first).
 */
#include "core/tlsca.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/cli.h"
#include "core/config.h"
#include "scanner/scanner.h"

#define TLSCA_SUBJECT_CN	"pipelock-fw interception CA"
#define TLSCA_SUBJECT_O		"pipelock-fw"
#define TLSCA_SERIAL_BYTES	16
#define TLSCA_CONSTRAINTS_MAX	8192	/* the nameConstraints text */

void
tlsca_ssl_error(char *out, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(out, len, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, out, len);
	ERR_clear_error();
}

/* The last OpenSSL error as text, for the CLI's messages. */
static const char *
ssl_errstr(void)
{
	static __thread char buf[256];

	tlsca_ssl_error(buf, sizeof(buf));
	return buf;
}

int
tlsca_add_ext(X509 *crt, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, crt, NULL, NULL, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(crt, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -1;
}

/* RFC 5280: up to 20 octets, positive. */
int
tlsca_serial_random(X509 *crt)
{
	unsigned char b[TLSCA_SERIAL_BYTES];
	BIGNUM *bn;
	int ret = -1;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[0] &= 0x7f;
	b[0] |= 0x01;		/* never zero, never negative */
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL)
		return -1;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) != NULL)
		ret = 0;
	BN_free(bn);
	return ret;
}

/* Write data to path created with O_EXCL and mode. */
static int
file_write_excl(const char *path, mode_t mode, const char *data, size_t len,
    char *err, size_t errlen)
{
	int fd, ret = -1;
	ssize_t n;
	size_t off = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    mode);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (use --force to replace it)" : "");
		return -1;
	}
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: write: %s", path,
			    strerror(errno));
			goto cleanup;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		snprintf(err, errlen, "%s: fsync: %s", path, strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (close(fd) == -1 && ret == 0) {
		snprintf(err, errlen, "%s: close: %s", path, strerror(errno));
		ret = -1;
	}
	if (ret == -1)
		(void)unlink(path);
	return ret;
}

/* PEM text of a key or certificate, in memory (secret: caller wipes). */
static char *
pem_text(EVP_PKEY *key, X509 *crt, size_t *len)
{
	BIO *b;
	char *p, *out = NULL;
	long n;

	if ((b = BIO_new(BIO_s_secmem())) == NULL)
		return NULL;
	if ((key != NULL && !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0,
	    NULL, NULL)) || (crt != NULL && !PEM_write_bio_X509(b, crt)))
		goto cleanup;
	n = BIO_get_mem_data(b, &p);
	if (n <= 0 || (out = malloc((size_t)n)) == NULL)
		goto cleanup;
	memcpy(out, p, (size_t)n);
	*len = (size_t)n;
cleanup:
	BIO_free(b);
	return out;
}

/*
 * "permitted;DNS:a.com,permitted;DNS:b.com": a DNS constraint covers the
 * name and every name below it, so "*.a.com" and "a.com" both become
 * a.com (RFC 5280 4.2.1.10).  -1 for a pattern it cannot express.
 */
static int
name_constraints(const struct strlist *permitted, char *out, size_t len,
    char *err, size_t errlen)
{
	const char *p;
	size_t i, off = 0;
	int n;

	for (i = 0; i < permitted->n; i++) {
		p = permitted->v[i];
		if (strncmp(p, "*.", 2) == 0)
			p += 2;
		if (*p == '\0' || strpbrk(p, "*,: ") != NULL) {
			snprintf(err, errlen, "'%s' cannot be a name constraint",
			    permitted->v[i]);
			return -1;
		}
		n = snprintf(out + off, len - off, "%spermitted;DNS:%s",
		    i > 0 ? "," : "", p);
		if (n < 0 || (size_t)n >= len - off) {
			snprintf(err, errlen, "too many name constraints");
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

const struct strlist *
tlsca_permitted(const struct config *cfg)
{
	if (cfg->scanner.strict && cfg->scanner.api_allowlist.n > 0)
		return &cfg->scanner.api_allowlist;
	return NULL;
}

static X509 *
ca_cert_new(EVP_PKEY *key, const char *constraints)
{
	X509 *crt;
	X509_NAME *name;

	if ((crt = X509_new()) == NULL)
		return NULL;
	if (!X509_set_version(crt, 2) || tlsca_serial_random(crt) == -1 ||
	    X509_gmtime_adj(X509_getm_notBefore(crt), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(crt), TLSCA_VALID_DAYS, 0,
	    NULL) == NULL || !X509_set_pubkey(crt, key))
		goto fail;
	name = X509_get_subject_name(crt);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)TLSCA_SUBJECT_O, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)TLSCA_SUBJECT_CN, -1, -1, 0) ||
	    !X509_set_issuer_name(crt, name))
		goto fail;
	if (tlsca_add_ext(crt, crt, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0") ||
	    tlsca_add_ext(crt, crt, NID_key_usage,
	    "critical,keyCertSign,cRLSign") ||
	    tlsca_add_ext(crt, crt, NID_subject_key_identifier, "hash") ||
	    tlsca_add_ext(crt, crt, NID_authority_key_identifier,
	    "keyid:always"))
		goto fail;
	if (constraints != NULL && *constraints != '\0') {
		char ext[TLSCA_CONSTRAINTS_MAX + 16];

		snprintf(ext, sizeof(ext), "critical,%s", constraints);
		if (tlsca_add_ext(crt, crt, NID_name_constraints, ext))
			goto fail;
	}
	if (!X509_sign(crt, key, EVP_sha256()))
		goto fail;
	return crt;
fail:
	X509_free(crt);
	return NULL;
}

int
tlsca_create(const char *dir, int force, const struct strlist *permitted,
    char *err, size_t errlen)
{
	char cpath[4096], kpath[4096], nc[TLSCA_CONSTRAINTS_MAX] = "";
	EVP_PKEY *key = NULL;
	X509 *crt = NULL;
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	struct stat st;
	int ret = -1;

	if ((size_t)snprintf(cpath, sizeof(cpath), "%s/%s", dir,
	    TLSCA_CERT_NAME) >= sizeof(cpath) ||
	    (size_t)snprintf(kpath, sizeof(kpath), "%s/%s", dir,
	    TLSCA_KEY_NAME) >= sizeof(kpath)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!force && (lstat(kpath, &st) == 0 || lstat(cpath, &st) == 0)) {
		snprintf(err, errlen, "%s: a CA exists already (use --force "
		    "to replace it)", dir);
		return -1;
	}
	if (permitted != NULL && name_constraints(permitted, nc, sizeof(nc),
	    err, errlen) == -1)
		return -1;
	if ((key = EVP_EC_gen("P-256")) == NULL ||
	    (crt = ca_cert_new(key, nc)) == NULL ||
	    (kpem = pem_text(key, NULL, &klen)) == NULL ||
	    (cpem = pem_text(NULL, crt, &clen)) == NULL) {
		snprintf(err, errlen, "creating the CA: %s", ssl_errstr());
		goto cleanup;
	}
	if (force) {
		(void)unlink(kpath);
		(void)unlink(cpath);
	}
	if (file_write_excl(kpath, 0600, kpem, klen, err, errlen) == -1)
		goto cleanup;
	if (file_write_excl(cpath, 0644, cpem, clen, err, errlen) == -1) {
		(void)unlink(kpath);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (kpem != NULL) {
		explicit_bzero(kpem, klen);
		free(kpem);
	}
	free(cpem);
	X509_free(crt);
	EVP_PKEY_free(key);
	return ret;
}

int
tlsca_load(const char *cert_path, const char *key_path, X509 **cert,
    EVP_PKEY **key, char *err, size_t errlen)
{
	FILE *f;
	X509 *c = NULL;
	EVP_PKEY *k = NULL;

	if ((f = fopen(cert_path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", cert_path, strerror(errno));
		return -1;
	}
	c = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (c == NULL) {
		snprintf(err, errlen, "%s: not a PEM certificate: %s",
		    cert_path, ssl_errstr());
		return -1;
	}
	if ((f = fopen(key_path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", key_path, strerror(errno));
		X509_free(c);
		return -1;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k == NULL) {
		snprintf(err, errlen, "%s: not a PEM private key: %s",
		    key_path, ssl_errstr());
		X509_free(c);
		return -1;
	}
	if (X509_check_private_key(c, k) != 1) {
		snprintf(err, errlen, "%s does not match the certificate %s",
		    key_path, cert_path);
		goto fail;
	}
	if (X509_check_ca(c) == 0) {
		snprintf(err, errlen, "%s is not a CA certificate", cert_path);
		goto fail;
	}
	ERR_clear_error();
	*cert = c;
	*key = k;
	return 0;
fail:
	ERR_clear_error();
	X509_free(c);
	EVP_PKEY_free(k);
	return -1;
}

int
tlsca_intercepts(const struct config *cfg, const char *sni)
{
	size_t i;

	if (!cfg->tls.enabled || sni == NULL || *sni == '\0')
		return 0;
	for (i = 0; i < cfg->tls.passthrough_domains.n; i++)
		if (scanner_domain_match(sni, cfg->tls.passthrough_domains.v[i]))
			return 0;
	return 1;
}

/* --- CLI ------------------------------------------------------------------ */

static void
tls_usage(FILE *f)
{
	fprintf(f,
	    "Usage: %s tls init [--out DIR] [--force] [--config FILE]\n"
	    "       %s tls install-ca [--ca FILE] [--root DIR]\n"
	    "\n"
	    "init        create the interception CA: DIR/ca.pem and DIR/ca-key.pem\n"
	    "            (EC P-256, key mode 0600; default DIR %s); an existing\n"
	    "            CA is only replaced with --force; with --config FILE in\n"
	    "            strict mode the CA is name-constrained to api_allowlist\n"
	    "install-ca  copy the CA certificate (default %s/ca.pem) to\n"
	    "            %s, run update-ca-certificates and print\n"
	    "            the environment variables common runtimes need; --root\n"
	    "            installs below DIR instead of / (staging, tests)\n",
	    progname, progname, TLSCA_DEFAULT_DIR, TLSCA_DEFAULT_DIR,
	    TLSCA_TRUST_PATH);
}

struct tls_opts {
	const char	*out;		/* init --out */
	int		 force;		/* init --force */
	const char	*ca;		/* install-ca --ca */
	const char	*root;		/* install-ca --root */
	const char	*config;	/* init --config */
};

/*
 * Options of one tls subcommand; allowed: its short options.  0 parsed,
 * 1 help printed, -1 usage error (printed).
 */
static int
tls_opts_parse(int argc, char **argv, const char *allowed, struct tls_opts *o)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "ca", required_argument, NULL, 'c' },
		{ "root", required_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, allowed, opts, NULL)) != -1) {
		if (ch == '?' || strchr(allowed, ch) == NULL)
			goto usage;
		switch (ch) {
		case 'o':
			o->out = optarg;
			break;
		case 'f':
			o->force = 1;
			break;
		case 'c':
			o->ca = optarg;
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'C':
			o->config = optarg;
			break;
		case 'h':
			tls_usage(stdout);
			return 1;
		}
	}
	if (optind == argc)
		return 0;
usage:
	tls_usage(stderr);
	return -1;
}

static int
tls_init_main(int argc, char **argv)
{
	struct tls_opts o = { .out = TLSCA_DEFAULT_DIR };
	struct config *cfg = NULL;
	const struct strlist *permitted = NULL;
	const char *dir;
	char err[CONFIG_ERR_MAX];
	size_t i;
	int r;

	if ((r = tls_opts_parse(argc, argv, "o:fC:h", &o)) != 0)
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	dir = o.out;
	if (o.config != NULL) {
		if (config_load(o.config, &cfg, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: tls init: %s\n", progname, err);
			return EXIT_USAGE;
		}
		permitted = tlsca_permitted(cfg);
	}
	r = tlsca_create(dir, o.force, permitted, err, sizeof(err));
	if (r == -1)
		fprintf(stderr, "%s: tls init: %s\n", progname, err);
	else if (permitted != NULL)
		for (i = 0; i < permitted->n; i++)
			printf("name constraint: %s\n", permitted->v[i]);
	config_free(cfg);
	if (r == -1)
		return EXIT_BLOCKED;
	printf("created %s/%s and %s/%s (key mode 0600)\n", dir,
	    TLSCA_CERT_NAME, dir, TLSCA_KEY_NAME);
	printf("configure:\n  tls_interception:\n    enabled: true\n"
	    "    ca_cert: %s/%s\n    ca_key: %s/%s\n", dir, TLSCA_CERT_NAME,
	    dir, TLSCA_KEY_NAME);
	return EXIT_ALLOWED;
}

/* Copy src to dst (0644), replacing it. */
static int
file_copy(const char *src, const char *dst, char *err, size_t errlen)
{
	FILE *in;
	X509 *crt;
	char *pem = NULL;
	size_t len = 0;
	int ret = -1;

	/* re-encode: what lands in the trust store is one clean certificate */
	if ((in = fopen(src, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", src, strerror(errno));
		return -1;
	}
	crt = PEM_read_X509(in, NULL, NULL, NULL);
	fclose(in);
	if (crt == NULL || X509_check_ca(crt) == 0) {
		snprintf(err, errlen, "%s: not a PEM CA certificate", src);
		goto cleanup;
	}
	if ((pem = pem_text(NULL, crt, &len)) == NULL) {
		snprintf(err, errlen, "%s: %s", src, ssl_errstr());
		goto cleanup;
	}
	(void)unlink(dst);
	ret = file_write_excl(dst, 0644, pem, len, err, errlen);
cleanup:
	free(pem);
	X509_free(crt);
	return ret;
}

/* mkdir -p for the --root staging tree. */
static int
mkdir_p(const char *path)
{
	char buf[4096], *p;

	if (strlen(path) >= sizeof(buf))
		return -1;
	strcpy(buf, path);
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* update-ca-certificates, pointed below root when one is given. */
static int
trust_update(const char *root)
{
	char conf[4096], certs[4096], local[4096], etc[4096], hooks[4096];
	char *argv[16];
	int i = 0, status;
	pid_t pid;
	FILE *f;

	argv[i++] = "update-ca-certificates";
	if (root != NULL) {
		snprintf(conf, sizeof(conf), "%s/etc/ca-certificates.conf", root);
		snprintf(certs, sizeof(certs), "%s/usr/share/ca-certificates", root);
		snprintf(local, sizeof(local),
		    "%s/usr/local/share/ca-certificates", root);
		snprintf(etc, sizeof(etc), "%s/etc/ssl/certs", root);
		snprintf(hooks, sizeof(hooks), "%s/etc/ca-certificates/update.d",
		    root);
		if (mkdir_p(certs) == -1 || mkdir_p(etc) == -1 ||
		    mkdir_p(hooks) == -1)
			return -1;
		if (access(conf, F_OK) == -1) {
			if ((f = fopen(conf, "we")) == NULL)
				return -1;
			fclose(f);
		}
		argv[i++] = "--certsconf";
		argv[i++] = conf;
		argv[i++] = "--certsdir";
		argv[i++] = certs;
		argv[i++] = "--localcertsdir";
		argv[i++] = local;
		argv[i++] = "--etccertsdir";
		argv[i++] = etc;
		argv[i++] = "--hooksdir";
		argv[i++] = hooks;
	}
	argv[i] = NULL;
	fflush(NULL);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		/* its chatter goes to stderr: stdout carries the env lines */
		(void)dup2(STDERR_FILENO, STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int
tls_install_main(int argc, char **argv)
{
	struct tls_opts o = { .ca = TLSCA_DEFAULT_DIR "/" TLSCA_CERT_NAME };
	const char *ca, *root;
	char dst[4096], dir[4096], bundle[4096], err[512];
	int r;

	if ((r = tls_opts_parse(argc, argv, "c:r:h", &o)) != 0)
		return r == 1 ? EXIT_ALLOWED : EXIT_USAGE;
	ca = o.ca;
	root = o.root;
	snprintf(dst, sizeof(dst), "%s%s", root != NULL ? root : "",
	    TLSCA_TRUST_PATH);
	snprintf(dir, sizeof(dir), "%s", dst);
	*strrchr(dir, '/') = '\0';
	snprintf(bundle, sizeof(bundle), "%s/etc/ssl/certs/ca-certificates.crt",
	    root != NULL ? root : "");
	if (mkdir_p(dir) == -1) {
		fprintf(stderr, "%s: tls install-ca: %s: %s\n", progname, dir,
		    strerror(errno));
		return EXIT_BLOCKED;
	}
	if (file_copy(ca, dst, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: tls install-ca: %s\n", progname, err);
		return EXIT_BLOCKED;
	}
	if (trust_update(root) == -1) {
		fprintf(stderr, "%s: tls install-ca: update-ca-certificates "
		    "failed\n", progname);
		return EXIT_BLOCKED;
	}
	fprintf(stderr, "installed %s; the system bundle is %s\n", dst, bundle);
	/* runtimes that ignore the system store, or read only one file */
	printf("export NODE_EXTRA_CA_CERTS=%s\n", dst);
	printf("export REQUESTS_CA_BUNDLE=%s\n", bundle);
	printf("export SSL_CERT_FILE=%s\n", bundle);
	printf("export CURL_CA_BUNDLE=%s\n", bundle);
	printf("export GIT_SSL_CAINFO=%s\n", bundle);
	return EXIT_ALLOWED;
}

/* `pipelock-fw tls init|install-ca`. */
int
tls_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		tls_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_ALLOWED;
	}
	if (strcmp(argv[1], "init") == 0)
		return tls_init_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "install-ca") == 0)
		return tls_install_main(argc - 1, argv + 1);
	fprintf(stderr, "%s: tls: unknown command '%s'\n", progname, argv[1]);
	tls_usage(stderr);
	return EXIT_USAGE;
}
