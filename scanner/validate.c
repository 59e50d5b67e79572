/*
 * validate.c - checksum validators run on every regex hit of a pattern
 * that names one (credit cards, IBANs, ABA numbers, Bitcoin WIF keys), so a
 * random digit run does not block traffic.  Rules follow pipelock's
 * internal/scanner/validate.go exactly (reference section 3).
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "scanner/validate.h"

#define LUHN_MIN	15
#define LUHN_MAX	19
#define IBAN_MIN	15
#define IBAN_MAX	34
#define WIF_MAX		64	/* Base58 chars we accept before decoding */
#define WIF_RAW		38	/* 1 version + 33 key + 4 checksum */

static int
validate_prefix_in(const char *d, int ndig, int lo, int hi)
{
	int v = 0, i;

	for (i = 0; i < ndig; i++)
		v = v * 10 + (d[i] - '0');
	return v >= lo && v <= hi;
}

/* Issuer gate: only ranges and lengths of real card schemes. */
static int
validate_card_issuer(const char *d, size_t n)
{
	if (d[0] == '4')
		return n == 16 || n == 19;
	if (validate_prefix_in(d, 2, 51, 55) ||
	    validate_prefix_in(d, 4, 2221, 2720))
		return n == 16;
	if (validate_prefix_in(d, 2, 34, 34) || validate_prefix_in(d, 2, 37, 37))
		return n == 15;
	if (validate_prefix_in(d, 4, 3528, 3589))
		return n >= 16 && n <= 19;
	if (validate_prefix_in(d, 4, 6011, 6011) ||
	    validate_prefix_in(d, 4, 6440, 6499) ||
	    validate_prefix_in(d, 2, 65, 65))
		return n == 16 || n == 19;
	return 0;
}

int
validate_luhn(const char *s, size_t len)
{
	char d[LUHN_MAX];
	size_t i, n = 0;
	int sum = 0, v;

	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			continue;
		if (n == LUHN_MAX)
			return 0;
		d[n++] = s[i];
	}
	if (n < LUHN_MIN || !validate_card_issuer(d, n))
		return 0;
	for (i = 0; i < n; i++) {
		v = d[n - 1 - i] - '0';
		if (i & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

/* ISO 13616 IBAN lengths by country (pipelock's table). */
static const char validate_iban_table[] =
	"AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28"
	"CZ24DE22DJ27DK18DO28EE20EG29ES24FI18FK18FO18FR27GB22GE22GI23GL18"
	"GR27GT28HN28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21"
	"LT20LU20LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18NO15OM23"
	"PK24PL28PS29PT25QA29RO24RS22RU33SA24SC31SD18SE24SI19SK24SM27SN28"
	"SO23ST25SV28TL23TN24TR26UA29VA22VG24XK20YE30";

static int
validate_iban_len(const char *cc)
{
	const char *p;

	for (p = validate_iban_table; *p; p += 4)
		if (p[0] == cc[0] && p[1] == cc[1])
			return (p[2] - '0') * 10 + (p[3] - '0');
	return -1;
}

static int
validate_upper(char c)
{
	return (c >= 'a' && c <= 'z') ? c - 32 : c;
}

int
validate_mod97(const char *s, size_t len)
{
	char b[IBAN_MAX];
	size_t i, n = 0;
	unsigned rem = 0;
	int c;

	for (i = 0; i < len; i++) {
		if (s[i] == ' ' || s[i] == '-')
			continue;
		if (n == IBAN_MAX)
			return 0;
		b[n++] = (char)validate_upper(s[i]);
	}
	if (n < IBAN_MIN)
		return 0;
	if (b[0] < 'A' || b[0] > 'Z' || b[1] < 'A' || b[1] > 'Z' ||
	    b[2] < '0' || b[2] > '9' || b[3] < '0' || b[3] > '9')
		return 0;
	if (validate_iban_len(b) != (int)n)
		return 0;
	for (i = 0; i < n; i++) {
		c = b[(i + 4) % n];
		if (c >= '0' && c <= '9')
			rem = (rem * 10 + (unsigned)(c - '0')) % 97;
		else if (c >= 'A' && c <= 'Z')
			rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
		else
			return 0;
	}
	return rem == 1;
}

int
validate_aba(const char *s, size_t len)
{
	static const int w[3] = { 3, 7, 1 };
	int p, sum = 0;
	size_t i;

	if (len != 9)
		return 0;
	for (i = 0; i < 9; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	p = (s[0] - '0') * 10 + (s[1] - '0');
	if (!((p <= 12) || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) ||
	    p == 80))
		return 0;
	for (i = 0; i < 9; i++)
		sum += (s[i] - '0') * w[i % 3];
	return sum % 10 == 0;
}

/*
 * Base58 digit of c (alphabet 1-9 A-H J-N P-Z a-k m-z: no 0, O, I, l), or -1.
 * Ranges rather than strchr(): hex pieces of package URLs fit the WIF shape
 * and reach the decoder on ordinary traffic.
 */
static int
validate_b58_digit(unsigned char c)
{
	if (c >= '1' && c <= '9')
		return c - '1';
	if (c >= 'A' && c <= 'H')
		return c - 'A' + 9;
	if (c >= 'J' && c <= 'N')
		return c - 'J' + 17;
	if (c >= 'P' && c <= 'Z')
		return c - 'P' + 22;
	if (c >= 'a' && c <= 'k')
		return c - 'a' + 33;
	if (c >= 'm' && c <= 'z')
		return c - 'm' + 44;
	return -1;
}

#define B58_LIMBS	16	/* 32-bit limbs: outputs up to 64 bytes */

/*
 * Base58 -> big-endian bytes in out[outlen]; -1 on a non-Base58 character or
 * if the value does not fit in outlen bytes, else the count of leading '1's.
 * Works on 32-bit limbs (a tenth of the multiply-adds of a byte loop); the
 * value only grows digit by digit, so a carry out of the top limb, or bits
 * above outlen bytes at the end, is the same "does not fit" as a byte loop's.
 */
static int
validate_b58_decode(const char *s, size_t len, unsigned char *out,
    size_t outlen)
{
	uint32_t limb[B58_LIMBS] = { 0 };
	size_t i, j, nl = (outlen + 3) / 4, zeros = 0, rem = outlen % 4;
	uint64_t carry;
	int d;

	if (nl > B58_LIMBS)
		return -1;
	while (zeros < len && s[zeros] == '1')
		zeros++;
	for (i = 0; i < len; i++) {
		if ((d = validate_b58_digit((unsigned char)s[i])) == -1)
			return -1;
		carry = (uint64_t)d;
		for (j = nl; j-- > 0;) {
			carry += (uint64_t)limb[j] * 58u;
			limb[j] = (uint32_t)carry;
			carry >>= 32;
		}
		if (carry)
			return -1;
	}
	if (rem != 0 && (limb[0] >> (8 * rem)) != 0)
		return -1;
	/* out[outlen - 1 - k] is byte k (from the low end) of the value */
	for (i = 0; i < outlen; i++)
		out[outlen - 1 - i] = (unsigned char)(limb[nl - 1 - i / 4] >>
		    (8 * (i % 4)));
	return (int)zeros;
}

static int
validate_sha256d(const unsigned char *in, size_t len, unsigned char out[32])
{
	unsigned char h1[32];
	unsigned int n = 0;

	if (!EVP_Digest(in, len, h1, &n, EVP_sha256(), NULL) ||
	    !EVP_Digest(h1, sizeof(h1), out, &n, EVP_sha256(), NULL))
		return -1;
	return 0;
}

int
validate_wif(const char *s, size_t len)
{
	unsigned char raw[WIF_RAW], h[32];
	size_t n;

	if (len < 50 || len > 52)
		return 0;
	/* 51 chars -> 37 bytes (uncompressed), 52 -> 38 (compressed). */
	n = len == 51 ? 37 : 38;
	if (validate_b58_decode(s, len, raw, n) != 0)
		return 0;
	if (raw[0] != 0x80)
		return 0;
	if (n == 38 && raw[33] != 0x01)
		return 0;
	if (validate_sha256d(raw, n - 4, h) == -1)
		return 0;
	return memcmp(h, raw + n - 4, 4) == 0;
}

int
validate_match(enum scan_validator v, const char *s, size_t len)
{
	switch (v) {
	case SCAN_VALIDATE_NONE:
		return 1;
	case SCAN_VALIDATE_LUHN:
		return validate_luhn(s, len);
	case SCAN_VALIDATE_MOD97:
		return validate_mod97(s, len);
	case SCAN_VALIDATE_ABA:
		return validate_aba(s, len);
	case SCAN_VALIDATE_WIF:
		return validate_wif(s, len);
	}
	return 0;
}

static const char *const validate_names[] = {
	[SCAN_VALIDATE_NONE] = "",
	[SCAN_VALIDATE_LUHN] = "luhn",
	[SCAN_VALIDATE_MOD97] = "mod97",
	[SCAN_VALIDATE_ABA] = "aba",
	[SCAN_VALIDATE_WIF] = "wif",
};

int
validate_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(validate_names) / sizeof(validate_names[0]); i++)
		if (strcmp(name, validate_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
validate_name(enum scan_validator v)
{
	if ((size_t)v >= sizeof(validate_names) / sizeof(validate_names[0]))
		return "?";
	return validate_names[v];
}
