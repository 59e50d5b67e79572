/*
 * rules_nft.c - struct rules_set -> libnftnl objects -> one netlink batch.
 *
 * Why libnftnl and not libnftables text: the xt NFQUEUE target (the only
 * NFQUEUE on kernels without nft_queue) has no nft syntax, and a second
 * step would break "one atomic batch".  Every message asks for an ACK and
 * carries its own sequence number, so an error names the exact object or
 * rule the kernel refused (e.g. the tproxy rule when nft_tproxy is absent).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "core/sockdiag.h"
#include "nfq/nfq.h"
#include "rules/rules.h"
#include "rules/rules_nft.h"

#define PROBE_TABLE	"pipelock_probe"
#define BATCH_MAX_MSGS	512
#define BATCH_BUFSIZ	(1 << 20)
#define ACK_TIMEOUT_MS	5000
#define BYTEORDER_HOST	1	/* nft's udata key byte order values */
#define BYTEORDER_BIG	2
/* nft's datatype ids (src/datatype.h), so `nft list` prints the keys */
#define NFT_TYPE_IPADDR		7
#define NFT_TYPE_IP6ADDR	8
#define NFT_TYPE_INET_SERVICE	13
#define NFT_TYPE_UID		24
#define NFT_TYPE_GID		25
#define CT_DIR_ORIGINAL		0	/* enum ip_conntrack_dir */

struct batch {
	char		*buf;
	struct mnl_nlmsg_batch *b;
	uint32_t	 seq0;
	uint32_t	 seq;
	int		 nmsgs;
	char		 what[BATCH_MAX_MSGS][96];	/* per message, for errors */
};

static int
batch_init(struct batch *bt)
{
	memset(bt, 0, sizeof(*bt));
	if ((bt->buf = calloc(1, BATCH_BUFSIZ)) == NULL)
		return -1;
	bt->b = mnl_nlmsg_batch_start(bt->buf, BATCH_BUFSIZ);
	bt->seq0 = bt->seq = (uint32_t)time(NULL);
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt->b), bt->seq++);
	mnl_nlmsg_batch_next(bt->b);
	return 0;
}

static void
batch_free(struct batch *bt)
{
	if (bt->b != NULL)
		mnl_nlmsg_batch_stop(bt->b);
	free(bt->buf);
	bt->buf = NULL;
	bt->b = NULL;
}

/* Start a message; what describes it for error messages. */
static struct nlmsghdr *
batch_msg(struct batch *bt, uint16_t type, uint16_t flags, const char *what)
{
	struct nlmsghdr *nlh;
	int idx = (int)(bt->seq - bt->seq0) - 1;

	if (idx < 0 || idx >= BATCH_MAX_MSGS ||
	    mnl_nlmsg_batch_size(bt->b) + 8192 > BATCH_BUFSIZ)
		return NULL;
	snprintf(bt->what[idx], sizeof(bt->what[idx]), "%s", what);
	nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type,
	    NFPROTO_INET, flags | NLM_F_ACK, bt->seq++);
	bt->nmsgs++;
	return nlh;
}

/*
 * Append one message carrying obj (a struct nftnl_table/chain/set/rule,
 * by type; NFT_MSG_NEWSETELEM takes the set holding the elements).  The
 * caller keeps obj.  0, or -1 when the batch is full.
 */
static int
batch_put(struct batch *bt, uint16_t type, uint16_t flags, const char *what,
    void *obj)
{
	struct nlmsghdr *nlh;

	if ((nlh = batch_msg(bt, type, flags, what)) == NULL)
		return -1;
	switch (type) {
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
		nftnl_table_nlmsg_build_payload(nlh, obj);
		break;
	case NFT_MSG_NEWCHAIN:
		nftnl_chain_nlmsg_build_payload(nlh, obj);
		break;
	case NFT_MSG_NEWSET:
		nftnl_set_nlmsg_build_payload(nlh, obj);
		break;
	case NFT_MSG_NEWSETELEM:
		nftnl_set_elems_nlmsg_build_payload(nlh, obj);
		break;
	case NFT_MSG_NEWRULE:
		nftnl_rule_nlmsg_build_payload(nlh, obj);
		break;
	}
	mnl_nlmsg_batch_next(bt->b);
	return 0;
}

/*
 * Send the batch and collect one ACK per message.  0, or -errno of the
 * first refused message with err naming it.
 */
static int
batch_send(struct batch *bt, char *err, size_t errlen)
{
	struct mnl_socket *nl = NULL;
	char rbuf[MNL_SOCKET_BUFFER_SIZE * 4];
	struct pollfd pfd;
	int acks = 0, ret = -EIO, first = 0, first_idx = -1;
	ssize_t n;

	nftnl_batch_end(mnl_nlmsg_batch_current(bt->b), bt->seq++);
	mnl_nlmsg_batch_next(bt->b);
	if ((nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		ret = -errno;
		snprintf(err, errlen, "netlink: %s", strerror(errno));
		goto cleanup;
	}
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(bt->b),
	    mnl_nlmsg_batch_size(bt->b)) == -1) {
		ret = -errno;
		snprintf(err, errlen, "netlink send: %s", strerror(errno));
		goto cleanup;
	}
	pfd.fd = mnl_socket_get_fd(nl);
	pfd.events = POLLIN;
	/* a refusal of the whole batch (EPERM, ...) is its only reply */
	while (acks < bt->nmsgs && !(first != 0 && first_idx < 0)) {
		struct nlmsghdr *nlh;
		int len;

		if (poll(&pfd, 1, ACK_TIMEOUT_MS) <= 0)
			break;
		if ((n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf))) == -1) {
			ret = -errno;
			snprintf(err, errlen, "netlink recv: %s",
			    strerror(errno));
			goto cleanup;
		}
		len = (int)n;
		for (nlh = (struct nlmsghdr *)rbuf; mnl_nlmsg_ok(nlh, len);
		    nlh = mnl_nlmsg_next(nlh, &len)) {
			struct nlmsgerr *e;
			int idx;

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			acks++;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error == 0 || first != 0)
				continue;
			first = e->error;
			idx = (int)(nlh->nlmsg_seq - bt->seq0) - 1;
			first_idx = idx >= 0 && idx < bt->nmsgs ? idx : -1;
			snprintf(err, errlen, "kernel refused %s: %s",
			    idx >= 0 && idx < bt->nmsgs ? bt->what[idx] :
			    "the batch", strerror(-e->error));
		}
	}
	if (first != 0) {
		ret = first;
		goto cleanup;
	}
	if (acks < bt->nmsgs) {
		snprintf(err, errlen, "netlink: %d of %d replies",
		    acks, bt->nmsgs);
		ret = -ETIMEDOUT;
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (nl != NULL)
		mnl_socket_close(nl);
	return ret;
}

/* ------------------------------------------------------------ objects */

static int
add_table(struct batch *bt, const char *name, uint16_t flags,
    const char *comment, int del)
{
	struct nftnl_table *t;
	struct nftnl_udata_buf *ud = NULL;
	int ret;
	char what[96];

	if ((t = nftnl_table_alloc()) == NULL)
		return -1;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	if (comment != NULL) {
		if ((ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)) == NULL ||
		    !nftnl_udata_put_strz(ud, NFTNL_UDATA_TABLE_COMMENT,
		    comment)) {
			nftnl_udata_buf_free(ud);
			nftnl_table_free(t);
			return -1;
		}
		nftnl_table_set_data(t, NFTNL_TABLE_USERDATA,
		    nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
	}
	snprintf(what, sizeof(what), "%s table inet %s", del ? "delete" :
	    "add", name);
	ret = batch_put(bt, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE,
	    del ? 0 : NLM_F_CREATE | flags, what, t);
	nftnl_udata_buf_free(ud);
	nftnl_table_free(t);
	return ret;
}

static int
add_chain(struct batch *bt, const char *table, const struct rules_chain *ch)
{
	struct nftnl_chain *c;
	int ret;
	char what[96];

	if ((c = nftnl_chain_alloc()) == NULL)
		return -1;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, ch->name);
	if (ch->type != NULL) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, ch->type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)ch->hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, ch->prio);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	snprintf(what, sizeof(what), "chain %s%s", ch->name,
	    ch->type != NULL && strcmp(ch->type, "route") == 0 ?
	    " (type route)" : "");
	ret = batch_put(bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, what, c);
	nftnl_chain_free(c);
	return ret;
}

static void
key_props(enum rules_key k, uint32_t *type, uint32_t *len, uint32_t *order)
{
	switch (k) {
	case RULES_KEY_UID:
		*type = NFT_TYPE_UID, *len = 4, *order = BYTEORDER_HOST;
		break;
	case RULES_KEY_GID:
		*type = NFT_TYPE_GID, *len = 4, *order = BYTEORDER_HOST;
		break;
	case RULES_KEY_IPV4:
		*type = NFT_TYPE_IPADDR, *len = 4, *order = BYTEORDER_BIG;
		break;
	case RULES_KEY_IPV6:
		*type = NFT_TYPE_IP6ADDR, *len = 16, *order = BYTEORDER_BIG;
		break;
	case RULES_KEY_PORT:
		*type = NFT_TYPE_INET_SERVICE, *len = 2, *order = BYTEORDER_BIG;
		break;
	}
}

static int
add_set(struct batch *bt, const char *table, const struct rules_setdef *sd,
    uint32_t id)
{
	struct nftnl_set *s;
	struct nftnl_udata_buf *ud;
	uint32_t type = 0, len = 0, order = 0;
	char what[96];
	size_t i;
	int ret = -1;

	if ((s = nftnl_set_alloc()) == NULL)
		return -1;
	if ((ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)) == NULL)
		goto cleanup;
	key_props(sd->key, &type, &len, &order);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, sd->name);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, 0);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, len);
	if (!nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, order))
		goto cleanup;
	nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud),
	    nftnl_udata_buf_len(ud));
	snprintf(what, sizeof(what), "set %s", sd->name);
	if (batch_put(bt, NFT_MSG_NEWSET, NLM_F_CREATE, what, s) == -1)
		goto cleanup;
	if (sd->n > 0) {
		for (i = 0; i < sd->n; i++) {
			struct nftnl_set_elem *e;

			if ((e = nftnl_set_elem_alloc()) == NULL)
				goto cleanup;
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, sd->elems[i],
			    len);
			nftnl_set_elem_add(s, e);
		}
		snprintf(what, sizeof(what), "elements of set %s", sd->name);
		if (batch_put(bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE, what,
		    s) == -1)
			goto cleanup;
	}
	ret = 0;
cleanup:
	nftnl_udata_buf_free(ud);
	nftnl_set_free(s);
	return ret;
}

/* ---------------------------------------------------------- expressions */

static int
e_add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (e == NULL)
		return -1;
	nftnl_rule_add_expr(r, e);
	return 0;
}

/* A meta or ct expression: load key into reg 1, or (set) store reg 1. */
static struct nftnl_expr *
e_key(int ct, uint32_t key, int set)
{
	struct nftnl_expr *e = nftnl_expr_alloc(ct ? "ct" : "meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, ct ? NFTNL_EXPR_CT_KEY :
		    NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, ct ? (set ? NFTNL_EXPR_CT_SREG :
		    NFTNL_EXPR_CT_DREG) : (set ? NFTNL_EXPR_META_SREG :
		    NFTNL_EXPR_META_DREG), NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *
e_cmp(uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

/* reg1 = (reg1 & mask) ^ xor over len bytes */
static struct nftnl_expr *
e_bitwise(const void *mask, const void *xor, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
	}
	return e;
}

static struct nftnl_expr *
e_payload(uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return e;
}

static struct nftnl_expr *
e_lookup(const char *set, uint32_t set_id, int neg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
		if (neg)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS,
			    NFT_LOOKUP_F_INV);
	}
	return e;
}

static struct nftnl_expr *
e_verdict(int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT,
		    (uint32_t)verdict);
		if (chain != NULL)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	}
	return e;
}

static struct nftnl_expr *
e_reject(uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	}
	return e;
}

/* key |= mark, for the ct or the packet mark */
static int
e_mark_or(struct nftnl_rule *r, int ct, uint32_t mark)
{
	uint32_t mask = ~mark, xor = mark;

	uint32_t key = ct ? NFT_CT_MARK : NFT_META_MARK;

	if (e_add(r, e_key(ct, key, 0)) == -1 ||
	    e_add(r, e_bitwise(&mask, &xor, sizeof(mask))) == -1 ||
	    e_add(r, e_key(ct, key, 1)) == -1)
		return -1;
	return 0;
}

/* key & mark == mark, or with none: key & mark == 0 */
static int
e_mark_test(struct nftnl_rule *r, int ct, uint32_t mark, int none)
{
	uint32_t zero = 0;

	if (e_add(r, e_key(ct, ct ? NFT_CT_MARK : NFT_META_MARK, 0)) == -1 ||
	    e_add(r, e_bitwise(&mark, &zero, sizeof(mark))) == -1 ||
	    e_add(r, e_cmp(NFT_CMP_EQ, none ? &zero : &mark,
	    sizeof(mark))) == -1)
		return -1;
	return 0;
}

static uint32_t
set_id_of(const struct rules_set *rs, const char *name)
{
	size_t i;

	for (i = 0; i < rs->nsets; i++)
		if (strcmp(rs->sets[i].name, name) == 0)
			return (uint32_t)i + 1;
	return 0;
}

static int
match_exprs(struct nftnl_rule *r, const struct rules_set *rs,
    const struct rules_match *m)
{
	char ifname[IFNAMSIZ] = "lo";
	uint8_t u8;
	uint16_t port;
	uint8_t mask[16], zero[16];
	uint32_t alen;
	int i;

	switch (m->kind) {
	case RM_NFPROTO:
	case RM_L4PROTO:
		u8 = (uint8_t)m->v;
		return e_add(r, e_key(0, m->kind == RM_NFPROTO ?
		    NFT_META_NFPROTO : NFT_META_L4PROTO, 0)) == -1 ||
		    e_add(r, e_cmp(NFT_CMP_EQ, &u8, 1)) == -1 ? -1 : 0;
	case RM_DPORT:
		port = htons((uint16_t)m->v);
		return e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)) ==
		    -1 || e_add(r, e_cmp(m->neg ? NFT_CMP_NEQ : NFT_CMP_EQ,
		    &port, 2)) == -1 ? -1 : 0;
	case RM_DPORT_SET:
		return e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)) ==
		    -1 || e_add(r, e_lookup(m->set, set_id_of(rs, m->set),
		    m->neg)) == -1 ? -1 : 0;
	case RM_MARK:
	case RM_CTMARK:
		return e_mark_test(r, m->kind == RM_CTMARK, m->v, m->neg);
	case RM_CTDIR_ORIG:
		u8 = CT_DIR_ORIGINAL;
		return e_add(r, e_key(1, NFT_CT_DIRECTION, 0)) == -1 ||
		    e_add(r, e_cmp(NFT_CMP_EQ, &u8, 1)) == -1 ? -1 : 0;
	case RM_IIFNAME:
	case RM_OIFNAME:
		/* the whole IFNAMSIZ, zero padded: an exact name match */
		return e_add(r, e_key(0, m->kind == RM_IIFNAME ?
		    NFT_META_IIFNAME : NFT_META_OIFNAME, 0)) == -1 ||
		    e_add(r, e_cmp(m->neg ? NFT_CMP_NEQ : NFT_CMP_EQ, ifname,
		    IFNAMSIZ)) == -1 ? -1 : 0;
	case RM_SKUID_SET:
	case RM_SKGID_SET:
		return e_add(r, e_key(0, m->kind == RM_SKUID_SET ?
		    NFT_META_SKUID : NFT_META_SKGID, 0)) == -1 ||
		    e_add(r, e_lookup(m->set, set_id_of(rs, m->set),
		    m->neg)) == -1 ? -1 : 0;
	case RM_DADDR_SET:
		if (m->family == NFPROTO_IPV6)
			return e_add(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER,
			    24, 16)) == -1 || e_add(r, e_lookup(m->set,
			    set_id_of(rs, m->set), m->neg)) == -1 ? -1 : 0;
		return e_add(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4)) ==
		    -1 || e_add(r, e_lookup(m->set, set_id_of(rs, m->set),
		    m->neg)) == -1 ? -1 : 0;
	case RM_DADDR_PREFIX:
		alen = m->family == NFPROTO_IPV6 ? 16 : 4;
		memset(mask, 0, sizeof(mask));
		memset(zero, 0, sizeof(zero));
		for (i = 0; i < (int)alen; i++) {
			int keep = (int)m->plen - i * 8;

			mask[i] = keep >= 8 ? 0xff : keep <= 0 ? 0 :
			    (uint8_t)(0xff << (8 - keep));
		}
		return e_add(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER,
		    m->family == NFPROTO_IPV6 ? 24 : 16, alen)) == -1 ||
		    e_add(r, e_bitwise(mask, zero, alen)) == -1 ||
		    e_add(r, e_cmp(m->neg ? NFT_CMP_NEQ : NFT_CMP_EQ, m->addr,
		    alen)) == -1 ? -1 : 0;
	}
	return -1;
}

static int
verdict_exprs(struct nftnl_rule *r, const struct rules_set *rs,
    const struct rules_rule *rr)
{
	const struct rules_params *p = &rs->p;
	struct xt_NFQ_info_v3 *info;
	struct nftnl_expr *e;
	uint16_t port;

	switch (rr->verdict) {
	case RV_ACCEPT:
		return e_add(r, e_verdict(NF_ACCEPT, NULL));
	case RV_DROP:
		return e_add(r, e_verdict(NF_DROP, NULL));
	case RV_JUMP:
		return e_add(r, e_verdict(NFT_JUMP, rr->target));
	case RV_REJECT_TCP:
		return e_add(r, e_reject(NFT_REJECT_TCP_RST, 0));
	case RV_REJECT_ICMPX:
		return e_add(r, e_reject(NFT_REJECT_ICMPX_UNREACH,
		    NFT_REJECT_ICMPX_ADMIN_PROHIBITED));
	case RV_REJECT_PORT:
		return e_add(r, e_reject(NFT_REJECT_ICMPX_UNREACH,
		    NFT_REJECT_ICMPX_PORT_UNREACH));
	case RV_CTMARK_ACCEPT:
		return e_mark_or(r, 1, rr->mark) == -1 ||
		    e_add(r, e_verdict(NF_ACCEPT, NULL)) == -1 ? -1 : 0;
	case RV_CAPTURE:
		if (e_mark_or(r, 1, p->mark) == -1)
			return -1;
		/* FALLTHROUGH */
	case RV_MARK_ACCEPT:
		return e_mark_or(r, 0, p->mark) == -1 ||
		    e_add(r, e_verdict(NF_ACCEPT, NULL)) == -1 ? -1 : 0;
	case RV_TPROXY:
		port = htons(p->tproxy_port);
		if ((e = nftnl_expr_alloc("immediate")) == NULL)
			return -1;
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
		nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &port, sizeof(port));
		nftnl_rule_add_expr(r, e);
		if ((e = nftnl_expr_alloc("tproxy")) == NULL)
			return -1;
		/* family-less: one rule for IPv4 and IPv6 */
		nftnl_expr_set_u32(e, NFTNL_EXPR_TPROXY_FAMILY, NFPROTO_UNSPEC);
		nftnl_expr_set_u32(e, NFTNL_EXPR_TPROXY_REG_PORT, NFT_REG_1);
		nftnl_rule_add_expr(r, e);
		return e_mark_or(r, 0, p->mark) == -1 ||
		    e_add(r, e_verdict(NF_ACCEPT, NULL)) == -1 ? -1 : 0;
	case RV_QUEUE:
		/*
		 * Always `bypass`: with no listener the packet is accepted
		 * for this chain, and for fail_mode closed the nfq-guard
		 * chain rejects it (rules_set.c); queue_total > 1 balances
		 * by a hash of the address pair (no CPU fanout flag).
		 */
		if (e_mark_or(r, 0, NFQ_MARK_QUEUED) == -1)
			return -1;
		if (p->nfq == RULES_NFQ_NATIVE) {
			if ((e = nftnl_expr_alloc("queue")) == NULL)
				return -1;
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, p->queue_num);
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL,
			    p->queue_total);
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS,
			    NFT_QUEUE_FLAG_BYPASS);
			nftnl_rule_add_expr(r, e);
			return 0;
		}
		/* libnftnl keeps (and frees) the info buffer it is given */
		if ((e = nftnl_expr_alloc("target")) == NULL)
			return -1;
		if ((info = calloc(1, sizeof(*info))) == NULL) {
			nftnl_expr_free(e);
			return -1;
		}
		info->queuenum = p->queue_num;
		info->queues_total = p->queue_total;
		info->flags = NFQ_FLAG_BYPASS;
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
		nftnl_rule_add_expr(r, e);
		return 0;
	}
	return -1;
}

static struct nftnl_rule *
rule_build(const struct rules_set *rs, const struct rules_rule *rr,
    const char *table)
{
	struct nftnl_rule *r;
	struct nftnl_udata_buf *ud = NULL;
	size_t i;

	if ((r = nftnl_rule_alloc()) == NULL)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, rr->chain);
	for (i = 0; i < rr->nm; i++)
		if (match_exprs(r, rs, &rr->m[i]) == -1)
			goto fail;
	if (e_add(r, nftnl_expr_alloc("counter")) == -1 ||
	    verdict_exprs(r, rs, rr) == -1)
		goto fail;
	if (rr->comment != NULL) {
		if ((ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN)) == NULL ||
		    !nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT,
		    rr->comment))
			goto fail;
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA,
		    nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
		nftnl_udata_buf_free(ud);
	}
	return r;
fail:
	nftnl_udata_buf_free(ud);
	nftnl_rule_free(r);
	return NULL;
}

static int
add_rule(struct batch *bt, const struct rules_set *rs,
    const struct rules_rule *rr, const char *table)
{
	struct nftnl_rule *r;
	int ret;
	char what[96];

	if ((r = rule_build(rs, rr, table)) == NULL)
		return -1;
	snprintf(what, sizeof(what), "rule \"%s\" in chain %s%s",
	    rr->comment ? rr->comment : "", rr->chain,
	    rr->verdict == RV_TPROXY ? " (nft tproxy, module nft_tproxy)" :
	    rr->verdict == RV_QUEUE ? (rs->p.nfq == RULES_NFQ_XT ?
	    " (xt NFQUEUE target, nft_compat + xt_NFQUEUE)" :
	    " (nft queue, module nft_queue)") :
	    rr->verdict == RV_REJECT_TCP || rr->verdict == RV_REJECT_ICMPX ||
	    rr->verdict == RV_REJECT_PORT ?
	    " (reject, module nft_reject_inet)" : "");
	ret = batch_put(bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, what,
	    r);
	nftnl_rule_free(r);
	return ret;
}

static int
add_ruleset(struct batch *bt, const struct rules_set *rs, const char *table)
{
	size_t i;

	for (i = 0; i < rs->nchains; i++)
		if (add_chain(bt, table, &rs->chains[i]) == -1)
			return -1;
	for (i = 0; i < rs->nsets; i++)
		if (add_set(bt, table, &rs->sets[i], (uint32_t)i + 1) == -1)
			return -1;
	for (i = 0; i < rs->nrules; i++)
		if (add_rule(bt, rs, &rs->rules[i], table) == -1)
			return -1;
	return 0;
}

int
rules_nft_apply(const struct rules_set *rs, char *err, size_t errlen)
{
	struct batch bt;
	char rec[RULES_RECORD_MAX];
	int ret = -1;

	if (batch_init(&bt) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rules_params_record(&rs->p, rec, sizeof(rec));
	/* add (a no-op if present) + delete + add: one atomic replacement */
	if (add_table(&bt, RULES_TABLE_NAME, 0, NULL, 0) == -1 ||
	    add_table(&bt, RULES_TABLE_NAME, 0, NULL, 1) == -1 ||
	    add_table(&bt, RULES_TABLE_NAME, 0, rec, 0) == -1 ||
	    add_ruleset(&bt, rs, RULES_TABLE_NAME) == -1) {
		snprintf(err, errlen, "cannot build the netlink batch "
		    "(out of memory or too many rules)");
		goto cleanup;
	}
	if (batch_send(&bt, err, errlen) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	batch_free(&bt);
	return ret;
}

int
rules_nft_remove(char *err, size_t errlen)
{
	struct batch bt;
	int ret = -1;

	if (batch_init(&bt) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (add_table(&bt, RULES_TABLE_NAME, 0, NULL, 0) == -1 ||
	    add_table(&bt, RULES_TABLE_NAME, 0, NULL, 1) == -1) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	if (batch_send(&bt, err, errlen) != 0)
		goto cleanup;
	ret = 0;
cleanup:
	batch_free(&bt);
	return ret;
}

/* --------------------------------------------------------------- probes */

const char *
rules_probe_name(enum rules_probe what)
{
	switch (what) {
	case RULES_PROBE_TABLES:
		return "nf_tables (inet family; needs CAP_NET_ADMIN)";
	case RULES_PROBE_ROUTE_CHAIN:
		return "nft chains of type route (nft_chain_route)";
	case RULES_PROBE_TPROXY:
		return "nft tproxy expression (nft_tproxy, nf_tproxy_ipv4/6)";
	case RULES_PROBE_QUEUE:
		return "nft queue expression (nft_queue)";
	case RULES_PROBE_XT_NFQUEUE:
		return "xt NFQUEUE target via nft_compat (xt_NFQUEUE)";
	case RULES_PROBE_REJECT:
		return "nft reject expression (nft_reject_inet)";
	}
	return "?";
}

int
rules_nft_probe(enum rules_probe what)
{
	static const struct rules_chain pre = { "p", "filter",
	    NF_INET_PRE_ROUTING, 0 };
	static const struct rules_chain out = { "o", "route",
	    NF_INET_LOCAL_OUT, 0 };
	struct rules_set rs;
	struct rules_rule rr;
	struct batch bt;
	char err[256];
	int ret;

	memset(&rs, 0, sizeof(rs));
	memset(&rr, 0, sizeof(rr));
	rs.p.tproxy_port = 1;
	rs.p.mark = 1;
	rs.p.queue_total = 1;
	rs.p.nfq = what == RULES_PROBE_QUEUE ? RULES_NFQ_NATIVE : RULES_NFQ_XT;
	rr.chain = what == RULES_PROBE_ROUTE_CHAIN ? out.name : pre.name;
	rr.m[rr.nm++].kind = RM_L4PROTO;
	rr.m[0].v = IPPROTO_TCP;
	switch (what) {
	case RULES_PROBE_TABLES:
	case RULES_PROBE_ROUTE_CHAIN:
		rr.verdict = RV_ACCEPT;
		break;
	case RULES_PROBE_TPROXY:
		rr.verdict = RV_TPROXY;
		break;
	case RULES_PROBE_QUEUE:
	case RULES_PROBE_XT_NFQUEUE:
		rr.verdict = RV_QUEUE;
		break;
	case RULES_PROBE_REJECT:
		rr.verdict = RV_REJECT_TCP;
		break;
	}
	if (batch_init(&bt) == -1)
		return -ENOMEM;
	if (add_table(&bt, PROBE_TABLE, 0, NULL, 0) == -1 ||
	    add_chain(&bt, PROBE_TABLE, what == RULES_PROBE_ROUTE_CHAIN ?
	    &out : &pre) == -1 ||
	    add_rule(&bt, &rs, &rr, PROBE_TABLE) == -1 ||
	    add_table(&bt, PROBE_TABLE, 0, NULL, 1) == -1) {
		batch_free(&bt);
		return -ENOMEM;
	}
	ret = batch_send(&bt, err, sizeof(err));
	batch_free(&bt);
	return ret;
}

/* ---------------------------------------------------------------- reads */

struct comment_ctx {
	uint8_t	 type;		/* NFTNL_UDATA_{TABLE,RULE}_COMMENT */
	char	*out;
	size_t	 len;
};

static int
comment_cb(const struct nftnl_udata *attr, void *data)
{
	struct comment_ctx *c = data;
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) == c->type && len > 0 && len < c->len) {
		memcpy(c->out, nftnl_udata_get(attr), len);
		c->out[len] = '\0';
	}
	return 0;
}

/* The comment nft stores in a table's or rule's userdata, into out. */
static void
udata_comment(const void *ud, uint32_t udlen, uint8_t type, char *out,
    size_t len)
{
	struct comment_ctx c = { type, out, len };

	if (ud != NULL)
		nftnl_udata_parse(ud, udlen, comment_cb, &c);
}

struct record_ctx {
	char	*rec;
	size_t	 len;
	int	 found;
};

static int
record_cb(const struct nlmsghdr *nlh, void *data)
{
	struct record_ctx *c = data;
	struct nftnl_table *t;
	const void *ud;
	uint32_t udlen = 0;

	if ((t = nftnl_table_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0) {
		c->found = 1;
		ud = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &udlen);
		udata_comment(ud, udlen, NFTNL_UDATA_TABLE_COMMENT, c->rec,
		    c->len);
	}
	nftnl_table_free(t);
	return MNL_CB_OK;
}

int
rules_nft_record(char *rec, size_t len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nftnl_table *t;
	struct record_ctx c = { rec, len, 0 };
	int r;

	memset(buf, 0, sizeof(buf));	/* no uninitialised bytes reach the kernel */
	rec[0] = '\0';
	if ((t = nftnl_table_alloc()) == NULL)
		return -1;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, RULES_TABLE_NAME);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET,
	    NLM_F_ACK, (uint32_t)time(NULL));
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	r = sockdiag_nl_talk(NETLINK_NETFILTER, nlh, record_cb, &c);
	if (r == -ENOENT)
		return 0;
	if (r != 0)
		return -1;
	return c.found;
}

struct rules_ctx {
	struct rules_nft_rule *v;
	int	 n;
	int	 cap;
};

static int
rule_expr_cb(struct nftnl_expr *e, void *data)
{
	struct rules_nft_rule *o = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (strcmp(name, "counter") == 0) {
		o->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		o->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	} else if (strcmp(name, "target") == 0)
		o->xt_target = 1;
	return 0;
}

static int
rules_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rules_ctx *c = data;
	struct rules_nft_rule *o, *nv;
	struct nftnl_rule *r;
	const void *ud;
	uint32_t udlen = 0;

	if ((r = nftnl_rule_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) != 0 ||
	    strcmp(nftnl_rule_get_str(r, NFTNL_RULE_TABLE),
	    RULES_TABLE_NAME) != 0 ||
	    nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY) != NFPROTO_INET)
		goto out;
	if (c->n == c->cap) {
		int ncap = c->cap ? c->cap * 2 : 64;

		if ((nv = realloc(c->v, (size_t)ncap * sizeof(*nv))) == NULL) {
			nftnl_rule_free(r);
			return MNL_CB_ERROR;
		}
		c->v = nv;
		c->cap = ncap;
	}
	o = &c->v[c->n++];
	memset(o, 0, sizeof(*o));
	snprintf(o->chain, sizeof(o->chain), "%s",
	    nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &udlen);
	udata_comment(ud, udlen, NFTNL_UDATA_RULE_COMMENT, o->comment,
	    sizeof(o->comment));
	nftnl_expr_foreach(r, rule_expr_cb, o);
out:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int
rules_nft_rules(struct rules_nft_rule **out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nftnl_rule *r;
	struct rules_ctx c = { NULL, 0, 0 };

	memset(buf, 0, sizeof(buf));	/* no uninitialised bytes reach the kernel */
	*out = NULL;
	if ((r = nftnl_rule_alloc()) == NULL)
		return -1;
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, RULES_TABLE_NAME);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
	    NLM_F_DUMP, (uint32_t)time(NULL));
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	if (sockdiag_nl_talk(NETLINK_NETFILTER, nlh, rules_cb, &c) != 0) {
		free(c.v);
		return -1;
	}
	*out = c.v;
	return c.n;
}

struct elems_ctx {
	uint32_t *out;
	size_t	 max;
	size_t	 n;
};

static int
elem_cb(struct nftnl_set_elem *e, void *data)
{
	struct elems_ctx *c = data;
	const void *k;
	uint32_t len = 0;

	k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
	if (k != NULL && len == 4 && c->n < c->max)
		memcpy(&c->out[c->n++], k, 4);
	return 0;
}

static int
elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_set *s;

	if ((s = nftnl_set_alloc()) == NULL)
		return MNL_CB_ERROR;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0)
		nftnl_set_elem_foreach(s, elem_cb, data);
	nftnl_set_free(s);
	return MNL_CB_OK;
}

int
rules_nft_set_u32(const char *set, uint32_t *out, size_t max)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct nftnl_set *s;
	struct elems_ctx c = { out, max, 0 };

	memset(buf, 0, sizeof(buf));	/* no uninitialised bytes reach the kernel */
	if ((s = nftnl_set_alloc()) == NULL)
		return -1;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, RULES_TABLE_NAME);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_DUMP | NLM_F_ACK, (uint32_t)time(NULL));
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (sockdiag_nl_talk(NETLINK_NETFILTER, nlh, elems_cb, &c) != 0)
		return -1;
	return (int)c.n;
}
