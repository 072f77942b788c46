/*
 * pcap_flows: a plain single-threaded C flow counter, the baseline a flow-tracking
 * pipeline has to beat.
 *
 * Measures what it costs to read a capture with libpcap (pcap_next_ex), decode each frame
 * down to the TCP/UDP ports, and count packets per bidirectional flow in a hash table:
 *   - link layers: Ethernet with up to three VLAN tags (0x8100, 0x88a8, 0x9100), Linux
 *     cooked capture (SLL, SLL2), raw IP (RAW, IPV4, IPV6), BSD loopback (NULL, LOOP);
 *   - IPv4 with options (IHL); fragments are skipped, since only the first carries ports;
 *   - IPv6 fixed header, then hop-by-hop, routing, destination-options and AH extension
 *     headers; a fragment header skips the packet unless it is an atomic fragment;
 *   - TCP and UDP source and destination ports.
 * The key is the canonical 5-tuple (the lower address/port endpoint first, so both
 * directions land in one flow). The table is open addressing with linear probing over a
 * power-of-two array, a multiply/xor-shift hash, and it doubles at 5/8 load. Nothing is
 * allocated per packet; the only allocations are the table's growth steps.
 *
 * Usage: pcap_flows [-v] FILE
 * Prints: packets=N flows=N   (-v adds a breakdown on stderr)
 * Exit:   0 read to the end; 1 the file was damaged part-way (counts so far are printed);
 *         2 nothing could be read (bad arguments, not a capture, unsupported link type).
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- flow key and hash table ------------------------------------------------------ */

/* 40 bytes: two endpoints (IPv4 addresses use the first 4 bytes, rest zero), ports,
 * protocol and IP version. proto == 0 marks an empty slot (keys are only ever TCP/UDP). */
struct flow_key {
    uint8_t addr_lo[16];
    uint8_t addr_hi[16];
    uint16_t port_lo;
    uint16_t port_hi;
    uint8_t proto;
    uint8_t ipver;
    uint8_t pad[2];
};

struct flow_entry {
    struct flow_key key;
    uint64_t packets;
};

struct flow_table {
    struct flow_entry *slots;
    size_t mask; /* capacity - 1; capacity is a power of two */
    size_t used;
};

#define INITIAL_CAPACITY 4096u

static inline uint64_t load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

static inline uint64_t hash_key(const struct flow_key *k)
{
    const unsigned char *b = (const unsigned char *)k;
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof *k; i += 8)
        h = (h ^ load64(b + i)) * 0xff51afd7ed558ccdull;
    return mix64(h);
}

static inline int key_equal(const struct flow_key *a, const struct flow_key *b)
{
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;
    uint64_t diff = 0;
    for (size_t i = 0; i < sizeof *a; i += 8)
        diff |= load64(x + i) ^ load64(y + i);
    return diff == 0;
}

static int table_init(struct flow_table *t, size_t capacity)
{
    t->slots = calloc(capacity, sizeof *t->slots);
    if (t->slots == NULL)
        return -1;
    t->mask = capacity - 1;
    t->used = 0;
    return 0;
}

/* Place an entry known not to be present (used while growing). */
static void table_place(struct flow_table *t, const struct flow_entry *e)
{
    size_t i = (size_t)hash_key(&e->key) & t->mask;
    while (t->slots[i].key.proto != 0)
        i = (i + 1) & t->mask;
    t->slots[i] = *e;
}

static int table_grow(struct flow_table *t)
{
    struct flow_table bigger;
    if (table_init(&bigger, (t->mask + 1) * 2) != 0)
        return -1;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slots[i].key.proto != 0)
            table_place(&bigger, &t->slots[i]);
    bigger.used = t->used;
    free(t->slots);
    *t = bigger;
    return 0;
}

/* Count one packet for the flow; -1 only when the table cannot grow. */
static int table_count(struct flow_table *t, const struct flow_key *k)
{
    size_t i = (size_t)hash_key(k) & t->mask;
    for (;;) {
        struct flow_entry *e = &t->slots[i];
        if (e->key.proto == 0)
            break;
        if (key_equal(&e->key, k)) {
            e->packets++;
            return 0;
        }
        i = (i + 1) & t->mask;
    }
    /* New flow: grow first if this one would pass 5/8 load, then insert. */
    if ((t->used + 1) * 8 > (t->mask + 1) * 5) {
        if (table_grow(t) != 0)
            return -1;
        i = (size_t)hash_key(k) & t->mask;
        while (t->slots[i].key.proto != 0)
            i = (i + 1) & t->mask;
    }
    t->slots[i].key = *k;
    t->slots[i].packets = 1;
    t->used++;
    return 0;
}

/* ---- decoding --------------------------------------------------------------------- */

enum outcome { FLOW, NOT_IP, NOT_TCP_UDP, FRAGMENT, TRUNCATED };

static inline uint16_t be16(const u_char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* Fill the canonical key from endpoints a and b (addresses of alen bytes). */
static inline void make_key(struct flow_key *k, const u_char *a, const u_char *b, size_t alen,
                            uint16_t pa, uint16_t pb, uint8_t proto, uint8_t ipver)
{
    int c = memcmp(a, b, alen);
    if (c > 0 || (c == 0 && pa > pb)) {
        const u_char *t = a;
        a = b;
        b = t;
        uint16_t tp = pa;
        pa = pb;
        pb = tp;
    }
    memset(k, 0, sizeof *k);
    memcpy(k->addr_lo, a, alen);
    memcpy(k->addr_hi, b, alen);
    k->port_lo = pa;
    k->port_hi = pb;
    k->proto = proto;
    k->ipver = ipver;
}

/* Ports at l4 (len bytes available) for TCP/UDP. */
static inline enum outcome ports(const u_char *l4, size_t len, uint8_t proto, uint16_t *sp,
                                 uint16_t *dp)
{
    if (proto != 6 && proto != 17)
        return NOT_TCP_UDP;
    if (len < 4)
        return TRUNCATED;
    *sp = be16(l4);
    *dp = be16(l4 + 2);
    return FLOW;
}

static enum outcome decode_ipv4(const u_char *p, size_t len, struct flow_key *k)
{
    if (len < 20 || (p[0] >> 4) != 4)
        return TRUNCATED;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        return TRUNCATED;
    if ((be16(p + 6) & 0x3fff) != 0) /* MF flag or a non-zero offset */
        return FRAGMENT;
    uint8_t proto = p[9];
    uint16_t sp, dp;
    enum outcome o = ports(p + ihl, len - ihl, proto, &sp, &dp);
    if (o != FLOW)
        return o;
    make_key(k, p + 12, p + 16, 4, sp, dp, proto, 4);
    return FLOW;
}

static enum outcome decode_ipv6(const u_char *p, size_t len, struct flow_key *k)
{
    if (len < 40 || (p[0] >> 4) != 6)
        return TRUNCATED;
    uint8_t next = p[6];
    size_t off = 40;
    for (int hops = 0; hops < 8; hops++) {
        if (next == 0 || next == 43 || next == 60 || next == 51) {
            if (off + 2 > len)
                return TRUNCATED;
            size_t hlen = next == 51 ? ((size_t)p[off + 1] + 2) * 4
                                     : ((size_t)p[off + 1] + 1) * 8;
            next = p[off];
            off += hlen;
        } else if (next == 44) {
            if (off + 8 > len)
                return TRUNCATED;
            if ((be16(p + off + 2) & 0xfff9) != 0) /* offset or M flag: a real fragment */
                return FRAGMENT;
            next = p[off];
            off += 8;
        } else {
            break;
        }
    }
    if (off > len)
        return TRUNCATED;
    uint16_t sp, dp;
    enum outcome o = ports(p + off, len - off, next, &sp, &dp);
    if (o != FLOW)
        return o;
    make_key(k, p + 8, p + 24, 16, sp, dp, next, 6);
    return FLOW;
}

static inline enum outcome decode_ethertype(uint16_t type, const u_char *p, size_t len,
                                            struct flow_key *k)
{
    if (type == 0x0800)
        return decode_ipv4(p, len, k);
    if (type == 0x86dd)
        return decode_ipv6(p, len, k);
    return NOT_IP;
}

static enum outcome decode_ethernet(const u_char *p, size_t len, struct flow_key *k)
{
    if (len < 14)
        return TRUNCATED;
    uint16_t type = be16(p + 12);
    size_t off = 14;
    for (int tags = 0; tags < 3 && (type == 0x8100 || type == 0x88a8 || type == 0x9100);
         tags++) {
        if (off + 4 > len)
            return TRUNCATED;
        type = be16(p + off + 2);
        off += 4;
    }
    return decode_ethertype(type, p + off, len - off, k);
}

static enum outcome decode_sll(const u_char *p, size_t len, struct flow_key *k)
{
    if (len < 16)
        return TRUNCATED;
    return decode_ethertype(be16(p + 14), p + 16, len - 16, k);
}

/* Linux cooked capture v2: a 20-byte header with the EtherType in its first two bytes. */
static enum outcome decode_sll2(const u_char *p, size_t len, struct flow_key *k)
{
    if (len < 20)
        return TRUNCATED;
    return decode_ethertype(be16(p), p + 20, len - 20, k);
}

static enum outcome decode_raw(const u_char *p, size_t len, struct flow_key *k)
{
    if (len < 1)
        return TRUNCATED;
    if ((p[0] >> 4) == 4)
        return decode_ipv4(p, len, k);
    if ((p[0] >> 4) == 6)
        return decode_ipv6(p, len, k);
    return NOT_IP;
}

/* BSD loopback (DLT_NULL, DLT_LOOP): a 4-byte address family, then the IP packet; the
 * family's value differs between systems, so the IP version nibble decides. */
static enum outcome decode_loopback(const u_char *p, size_t len, struct flow_key *k)
{
    if (len < 4)
        return TRUNCATED;
    return decode_raw(p + 4, len - 4, k);
}

/* ---- main ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int argi = 1;
    int verbose = 0;
    if (argi < argc && strcmp(argv[argi], "-v") == 0) {
        verbose = 1;
        argi++;
    }
    if (argi + 1 != argc || argv[argi][0] == '-') {
        fprintf(stderr, "usage: %s [-v] FILE\n", argv[0]);
        return 2;
    }

    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[argi], errbuf);
    if (p == NULL) {
        fprintf(stderr, "pcap_flows: %s\n", errbuf);
        return 2;
    }

    enum outcome (*decode)(const u_char *, size_t, struct flow_key *);
    int dlt = pcap_datalink(p);
    switch (dlt) {
    case DLT_EN10MB:
        decode = decode_ethernet;
        break;
    case DLT_LINUX_SLL:
        decode = decode_sll;
        break;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2:
        decode = decode_sll2;
        break;
#endif
    case DLT_RAW: /* libpcap maps the file's LINKTYPE_RAW to this */
#ifdef DLT_IPV4
    case DLT_IPV4:
    case DLT_IPV6:
#endif
        decode = decode_raw;
        break;
    case DLT_NULL:
    case DLT_LOOP:
        decode = decode_loopback;
        break;
    default:
        fprintf(stderr, "pcap_flows: unsupported link type %d (%s)\n", dlt,
                pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?");
        pcap_close(p);
        return 2;
    }

    struct flow_table table;
    if (table_init(&table, INITIAL_CAPACITY) != 0) {
        fprintf(stderr, "pcap_flows: out of memory\n");
        pcap_close(p);
        return 2;
    }

    uint64_t packets = 0;
    uint64_t by_outcome[TRUNCATED + 1] = {0};
    struct pcap_pkthdr *hdr;
    const u_char *data;
    struct flow_key key;
    int out_of_memory = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        packets++;
        enum outcome o = decode(data, hdr->caplen, &key);
        by_outcome[o]++;
        if (o == FLOW && table_count(&table, &key) != 0) {
            fprintf(stderr, "pcap_flows: out of memory at %zu flows\n", table.used);
            out_of_memory = 1;
            break;
        }
    }

    int status = 0;
    if (out_of_memory) {
        status = 2;
    } else if (rc == PCAP_ERROR) {
        fprintf(stderr, "pcap_flows: read error after %llu packets: %s\n",
                (unsigned long long)packets, pcap_geterr(p));
        status = 1;
    }

    printf("packets=%llu flows=%zu\n", (unsigned long long)packets, table.used);
    if (verbose) {
        fflush(stdout);
        uint64_t in_flows = 0;
        for (size_t i = 0; i <= table.mask; i++)
            in_flows += table.slots[i].packets;
        fprintf(stderr,
                "tcp/udp=%llu (in table: %llu) not-ip=%llu other-ip-proto=%llu "
                "fragments=%llu truncated=%llu table-capacity=%zu\n",
                (unsigned long long)by_outcome[FLOW], (unsigned long long)in_flows,
                (unsigned long long)by_outcome[NOT_IP],
                (unsigned long long)by_outcome[NOT_TCP_UDP],
                (unsigned long long)by_outcome[FRAGMENT],
                (unsigned long long)by_outcome[TRUNCATED], table.mask + 1);
    }
    free(table.slots);
    pcap_close(p);
    return status;
}
