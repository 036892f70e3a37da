/* The floor: a bare libpcap read loop (pcap_next_ex over every record, summing
 * lengths so the loop cannot be optimised away). Any tool that reads captures through
 * libpcap is at best this fast. Build: gcc -O2 -o pcap_loop pcap_loop.c -lpcap */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv) {
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: pcap_loop FILE\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "pcap_loop: %s\n", err);
        return 2;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long frames = 0, bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        frames++;
        bytes += h->caplen + data[0];
    }
    if (rc == -1) {
        fprintf(stderr, "pcap_loop: %s\n", pcap_geterr(p));
        return 2;
    }
    printf("%llu frames %llu bytes\n", frames, bytes);
    pcap_close(p);
    return 0;
}
