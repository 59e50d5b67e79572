/*
 * test_validate.c - post-match validators and BIP-39 checksums with real
 * test numbers: issuer test cards, published IBAN examples, Federal Reserve
 * routing numbers, the Bitcoin wiki WIF keys, BIP-39 reference vectors.
 */
#include <string.h>

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

int
main(void)
{
	test_luhn();
	test_iban();
	test_aba();
	test_wif();
	test_bip39();
	return tap_done();
}
