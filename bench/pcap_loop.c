/* The floor: a bare libpcap read loop (pcap_next_ex over every record, summing
 * lengths so the loop cannot be optimised away). Any tool that reads captures through
 * libpcap is at best this fast.
 *
 * With --flows it also does the least a flow tool must do per packet: parse the link
 * layer (Ethernet with VLAN tags, Linux cooked v1/v2, raw IP), IPv4/IPv6 and the TCP
 * header, and find (or add) the packet's connection in a hash table keyed by the
 * 4-tuple in a direction-independent order, counting packets per connection. This is
 * the "C loop" of bench/instructions.sh: tcpdiag's cost per packet is compared to it.
 *
 * Build: gcc -O2 -o pcap_loop pcap_loop.c -lpcap
 * Usage: pcap_loop [--flows] FILE */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct key {
    uint8_t lo[16], hi[16]; /* addresses, lower (address, port) first */
    uint16_t lo_port, hi_port;
    uint8_t v6, pad[3];
};

struct slot {
    struct key k;
    uint64_t packets;
    uint8_t used;
};

static struct slot *table;
static size_t cap = 1 << 16, used;

static uint64_t hash_key(const struct key *k) {
    /* Word at a time, multiply and rotate (as rustc's FxHash): a cheap, fair floor. */
    uint64_t w[sizeof *k / 8], h = 0;
    memcpy(w, k, sizeof w);
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
        h = ((h << 5 | h >> 59) ^ w[i]) * 0x517cc1b727220a95ULL;
    return h ^ h >> 32; /* the table takes the low bits: fold the high ones in */
}

static struct slot *find(const struct key *k);

static void grow(void) {
    struct slot *old = table;
    size_t old_cap = cap;
    cap *= 2;
    table = calloc(cap, sizeof *table);
    if (!table) {
        perror("calloc");
        exit(2);
    }
    used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].used) {
            struct slot *s = find(&old[i].k);
            *s = old[i];
        }
    }
    free(old);
}

/* The slot of k: an existing one, or a new one (linear probing, grown at 50%). */
static struct slot *find(const struct key *k) {
    size_t i = hash_key(k) & (cap - 1);
    for (;;) {
        struct slot *s = &table[i];
        if (!s->used) {
            s->used = 1;
            s->k = *k;
            s->packets = 0;
            used++;
            return s;
        }
        if (memcmp(&s->k, k, sizeof *k) == 0)
            return s;
        i = (i + 1) & (cap - 1);
    }
}

static uint16_t be16(const u_char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Parses one frame down to TCP and counts it on its connection; 0 if not TCP. */
static int on_frame(int link, const u_char *d, uint32_t len) {
    uint32_t off;
    uint16_t type;
    switch (link) {
    case DLT_EN10MB:
        if (len < 14)
            return 0;
        type = be16(d + 12);
        off = 14;
        while ((type == 0x8100 || type == 0x88a8) && len >= off + 4) {
            type = be16(d + off + 2);
            off += 4;
        }
        break;
    case DLT_LINUX_SLL:
        if (len < 16)
            return 0;
        type = be16(d + 14);
        off = 16;
        break;
    case DLT_LINUX_SLL2:
        if (len < 20)
            return 0;
        type = be16(d);
        off = 20;
        break;
    case DLT_RAW: /* libpcap's own number for raw IP (12 here) */
        if (len < 1)
            return 0;
        type = (d[0] >> 4) == 6 ? 0x86dd : 0x0800;
        off = 0;
        break;
    default:
        return 0;
    }
    struct key k;
    memset(&k, 0, sizeof k);
    const u_char *src, *dst;
    int alen;
    if (type == 0x0800) {
        if (len < off + 20)
            return 0;
        const u_char *ip = d + off;
        uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
        if (ip[9] != 6 || ihl < 20 || (be16(ip + 6) & 0x3fff) != 0)
            return 0;
        src = ip + 12;
        dst = ip + 16;
        alen = 4;
        off += ihl;
    } else if (type == 0x86dd) {
        if (len < off + 40)
            return 0;
        const u_char *ip = d + off;
        if (ip[6] != 6) /* extension headers: not followed here */
            return 0;
        src = ip + 8;
        dst = ip + 24;
        alen = 16;
        k.v6 = 1;
        off += 40;
    } else {
        return 0;
    }
    if (len < off + 20)
        return 0;
    const u_char *tcp = d + off;
    uint16_t sport = be16(tcp), dport = be16(tcp + 2);
    int c = memcmp(src, dst, alen);
    if (c < 0 || (c == 0 && sport <= dport)) {
        memcpy(k.lo, src, alen);
        memcpy(k.hi, dst, alen);
        k.lo_port = sport;
        k.hi_port = dport;
    } else {
        memcpy(k.lo, dst, alen);
        memcpy(k.hi, src, alen);
        k.lo_port = dport;
        k.hi_port = sport;
    }
    if (used * 2 >= cap)
        grow();
    find(&k)->packets++;
    return 1;
}

int main(int argc, char **argv) {
    char err[PCAP_ERRBUF_SIZE];
    int flows = argc == 3 && strcmp(argv[1], "--flows") == 0;
    if (argc != 2 && !flows) {
        fprintf(stderr, "usage: pcap_loop [--flows] FILE\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[argc - 1], err);
    if (!p) {
        fprintf(stderr, "pcap_loop: %s\n", err);
        return 2;
    }
    if (flows) {
        table = calloc(cap, sizeof *table);
        if (!table) {
            perror("calloc");
            return 2;
        }
    }
    int link = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long frames = 0, bytes = 0, tcp = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        frames++;
        bytes += h->caplen + data[0];
        if (flows)
            tcp += on_frame(link, data, h->caplen);
    }
    if (rc == -1) {
        fprintf(stderr, "pcap_loop: %s\n", pcap_geterr(p));
        return 2;
    }
    if (flows)
        printf("%llu frames %llu bytes %llu tcp %zu connections\n", frames, bytes, tcp, used);
    else
        printf("%llu frames %llu bytes\n", frames, bytes);
    pcap_close(p);
    return 0;
}
