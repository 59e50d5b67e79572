/*
 * test_validate.c - post-match validators and BIP-39 checksums with real
 * test numbers: issuer test cards, published IBAN examples, Federal Reserve
 * routing numbers, the Bitcoin wiki WIF keys, BIP-39 reference vectors.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tap.h"
#include "scanner/bip39.h"
#include "scanner/validate.h"

#define V(f, s) f((s), strlen(s))

static void
test_luhn(void)
{
	static const char *good[] = {
		"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",
		"5555555555554444", "2223000048400011", "378282246310005",
		"6011111111111117", "3530111333300000", "4222222222222220",
		"6500000000000002",
	};
	static const char *bad[] = {
		"4111111111111112",	/* Luhn fails */
		"1234567812345670",	/* Luhn ok, no issuer starts with 1 */
		"411111111111111",	/* Visa is 16 or 19 digits */
		"378282246310006",	/* Amex, Luhn fails */
		"5555555555554",	/* too short */
		"41111111111111111111",	/* too long */
		"3782822463100050",	/* Amex must be 15 */
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(V(validate_luhn, good[i]), "luhn valid %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!V(validate_luhn, bad[i]), "luhn invalid %s", bad[i]);
}

static void
test_iban(void)
{
	static const char *good[] = {
		"GB82WEST12345698765432", "DE89370400440532013000",
		"FR1420041010050500013M02606", "NO9386011117947",
		"gb82 west 1234 5698 7654 32", "NL91ABNA0417164300",
		"CH9300762011623852957",
	};
	static const char *bad[] = {
		"GB82WEST12345698765433",	/* mod 97 fails */
		"DE8937040044053201300",	/* DE is 22 long */
		"XX82WEST12345698765432",	/* no such country */
		"G182WEST12345698765432",	/* letters first */
		"GB8",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(V(validate_mod97, good[i]), "iban valid %s", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!V(validate_mod97, bad[i]), "iban invalid %s", bad[i]);
}

static void
test_aba(void)
{
	ok(V(validate_aba, "021000021"), "aba valid 021000021");
	ok(V(validate_aba, "011000015"), "aba valid 011000015");
	ok(V(validate_aba, "322271627"), "aba valid 322271627");
	ok(!V(validate_aba, "021000022"), "aba checksum fails");
	ok(!V(validate_aba, "131000021"), "aba prefix 13 refused");
	ok(!V(validate_aba, "02100002"), "aba 8 digits refused");
	ok(!V(validate_aba, "02100002a"), "aba non-digit refused");
}

static void
test_wif(void)
{
	ok(V(validate_wif, "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"),
	    "wif uncompressed valid");
	ok(V(validate_wif, "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617"),
	    "wif compressed valid");
	ok(!V(validate_wif, "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTK"),
	    "wif checksum fails");
	ok(!V(validate_wif, "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98618"),
	    "wif compressed checksum fails");
	ok(!V(validate_wif, "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvy0J"),
	    "wif non-base58 char refused");
	ok(validate_match(SCAN_VALIDATE_NONE, "x", 1), "no validator accepts");
	is_int(validate_from_name("mod97"), SCAN_VALIDATE_MOD97, "name mod97");
	is_int(validate_from_name("crc"), -1, "unknown validator name");
	is_str(validate_name(SCAN_VALIDATE_WIF), "wif", "enum to name");
}

static int
words(const char *phrase, int *idx)
{
	char buf[256], *t, *save = NULL;
	int n = 0;

	strncpy(buf, phrase, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	for (t = strtok_r(buf, " ", &save); t && n < 24;
	    t = strtok_r(NULL, " ", &save))
		idx[n++] = bip39_index(t, strlen(t));
	return n;
}

static void
test_bip39(void)
{
	int idx[24], n;
	size_t off, len;
	const char *v12 = "legal winner thank year wave sausage worth useful "
	    "legal winner thank yellow";
	const char *bad = "legal winner thank year wave sausage worth useful "
	    "legal winner thank year";
	const char *txt = "notes: Abandon, abandon; abandon | abandon-abandon "
	    "abandon\nabandon abandon abandon abandon abandon about\nend.";

	is_int(bip39_index("abandon", 7), 0, "first word");
	is_int(bip39_index("ZOO", 3), 2047, "last word, any case");
	is_int(bip39_index("abandons", 8), -1, "not a word");
	is_int(bip39_index("ab", 2), -1, "too short");
	n = words(v12, idx);
	ok(n == 12 && bip39_checksum_ok(idx, n), "reference vector checksum");
	n = words(bad, idx);
	ok(!bip39_checksum_ok(idx, n), "wrong last word fails checksum");
	n = words("abandon abandon abandon abandon abandon abandon abandon "
	    "abandon abandon abandon abandon abandon abandon abandon abandon "
	    "abandon abandon abandon abandon abandon abandon abandon abandon "
	    "art", idx);
	ok(n == 24 && bip39_checksum_ok(idx, n), "24-word vector");
	ok(bip39_find(txt, strlen(txt), 12, 1, &off, &len),
	    "found across separators -,|;: and newline");
	is_int(off, 7, "phrase offset");
	ok(!bip39_find(bad, strlen(bad), 12, 1, &off, &len),
	    "bad checksum not reported");
	ok(bip39_find(bad, strlen(bad), 12, 0, &off, &len),
	    "verify_checksum off: any 12 list words");
	ok(!bip39_find(v12, strlen(v12), 15, 1, &off, &len),
	    "min_words 15 ignores a 12-word phrase");
}

/*
 * Reference WIF check, written the slow obvious way (a byte-at-a-time Base58
 * decode, as the validator had it first), to compare the validator against.
 */
static const char b58[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static void
sha256d(const unsigned char *in, size_t len, unsigned char out[32])
{
	unsigned char h1[32];

	EVP_Digest(in, len, h1, NULL, EVP_sha256(), NULL);
	EVP_Digest(h1, 32, out, NULL, EVP_sha256(), NULL);
}

static int
ref_wif(const char *s, size_t len)
{
	unsigned char raw[38], h[32];
	size_t i, j, n;
	const char *p;
	unsigned carry;

	if (len < 50 || len > 52)
		return 0;
	n = len == 51 ? 37 : 38;
	memset(raw, 0, sizeof(raw));
	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || (p = strchr(b58, s[i])) == NULL)
			return 0;
		carry = (unsigned)(p - b58);
		for (j = n; j-- > 0;) {
			carry += 58u * raw[j];
			raw[j] = (unsigned char)carry;
			carry >>= 8;
		}
		if (carry)
			return 0;
	}
	if (raw[0] != 0x80 || (n == 38 && raw[33] != 0x01))
		return 0;
	sha256d(raw, n - 4, h);
	return memcmp(h, raw + n - 4, 4) == 0;
}

/* Base58 of raw[n] (big-endian) into out, NUL-terminated; its length. */
static size_t
b58_encode(const unsigned char *raw, size_t n, char *out)
{
	unsigned char v[64];
	char tmp[96];
	size_t len = 0, i, start = 0;
	unsigned rem;

	memcpy(v, raw, n);
	while (start < n) {
		rem = 0;
		for (i = start; i < n; i++) {
			rem = rem * 256 + v[i];
			v[i] = (unsigned char)(rem / 58);
			rem %= 58;
		}
		tmp[len++] = b58[rem];
		while (start < n && v[start] == 0)
			start++;
	}
	for (i = 0; i < len; i++)
		out[i] = tmp[len - 1 - i];
	out[len] = '\0';
	return len;
}

/*
 * Random keys in both WIF forms must validate; every one-character change,
 * and random strings of the WIF shape, must get the reference's answer.
 */
static void
test_wif_random(void)
{
	unsigned char raw[38], h[32];
	char w[96], m[96];
	size_t i, k, len, n;
	int bad = 0, valid = 0, cases = 0;

	srand(7);
	for (i = 0; i < 400; i++) {
		n = i % 2 ? 38 : 37;
		raw[0] = 0x80;
		for (k = 1; k < 33; k++)
			raw[k] = (unsigned char)rand();
		if (n == 38)
			raw[33] = 0x01;
		sha256d(raw, n - 4, h);
		memcpy(raw + n - 4, h, 4);
		len = b58_encode(raw, n, w);
		valid += validate_wif(w, len) == 1;
		for (k = 0; k < len; k += 3) {
			memcpy(m, w, len + 1);
			m[k] = b58[(unsigned)rand() % 58];
			bad += validate_wif(m, len) != ref_wif(m, len);
			cases++;
		}
		for (k = 0; k < len; k++)	/* same shape, random digits */
			m[k] = b58[(unsigned)rand() % 58];
		m[0] = w[0];
		bad += validate_wif(m, len) != ref_wif(m, len);
		cases++;
	}
	is_int(valid, 400, "400 random WIF keys (both forms) validate");
	is_int(bad, 0, "validator agrees with the byte-loop reference");
	diag("%d mutated/random WIF-shaped strings compared", cases);
	ok(!V(validate_wif, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
	    "value above 38 bytes refused");
	ok(!V(validate_wif, "1111111111111111111111111111111111111111111111111111"),
	    "all-zero value refused");
}

int
main(void)
{
	test_luhn();
	test_iban();
	test_aba();
	test_wif();
	test_wif_random();
	test_bip39();
	return tap_done();
}
