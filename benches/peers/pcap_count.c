/*
 * pcap_count: the floor for any tool that reads a capture file through libpcap.
 *
 * Measures libpcap's bare offline read loop and nothing else: open the file, call
 * pcap_next_ex() until the end, add up packets and captured bytes. No decoding, no
 * allocation per packet. Optionally a BPF filter (the remaining arguments, joined with
 * spaces, as tcpdump takes them) is compiled and installed, so the cost of running the
 * filter over every record is included. With -b the file is opened by stdio with a
 * 128 KiB buffer and handed to pcap_fopen_offline(), to show what a larger read buffer
 * changes compared with libpcap's own fopen().
 *
 * Usage: pcap_count [-b] FILE [BPF EXPRESSION ...]
 * Prints: packets=N bytes=N   (bytes = sum of captured lengths of the packets that passed)
 * Exit:   0 read to the end; 1 the file was damaged part-way (counts so far are printed);
 *         2 nothing could be read (bad arguments, not a capture, bad filter).
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STDIO_BUFFER_BYTES (128u * 1024u)

/* The stdio buffer must outlive the FILE, which pcap_close() closes. */
static char stdio_buffer[STDIO_BUFFER_BYTES];

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s [-b] FILE [BPF EXPRESSION ...]\n"
                    "  -b  read through a FILE with a 128 KiB setvbuf buffer "
                    "(pcap_fopen_offline)\n",
            argv0);
}

/* Join argv[first..argc) with single spaces into a new string; NULL when there is none. */
static char *join_args(int argc, char **argv, int first)
{
    size_t len = 0;
    for (int i = first; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if (len == 0)
        return NULL;
    char *out = malloc(len);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    for (int i = first; i < argc; i++) {
        if (i > first)
            strcat(out, " ");
        strcat(out, argv[i]);
    }
    return out;
}

static pcap_t *open_capture(const char *path, int big_buffer, char *errbuf)
{
    if (!big_buffer)
        return pcap_open_offline(path, errbuf);

    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: cannot open", path);
        return NULL;
    }
    if (setvbuf(fp, stdio_buffer, _IOFBF, sizeof stdio_buffer) != 0) {
        snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: setvbuf failed", path);
        fclose(fp);
        return NULL;
    }
    pcap_t *p = pcap_fopen_offline(fp, errbuf);
    if (p == NULL)
        fclose(fp);
    return p;
}

int main(int argc, char **argv)
{
    int argi = 1;
    int big_buffer = 0;
    if (argi < argc && strcmp(argv[argi], "-b") == 0) {
        big_buffer = 1;
        argi++;
    }
    if (argi >= argc || argv[argi][0] == '-') {
        usage(argv[0]);
        return 2;
    }
    const char *path = argv[argi++];

    char errbuf[PCAP_ERRBUF_SIZE];
    errbuf[0] = '\0';
    pcap_t *p = open_capture(path, big_buffer, errbuf);
    if (p == NULL) {
        fprintf(stderr, "pcap_count: %s\n", errbuf);
        return 2;
    }

    char *expr = join_args(argc, argv, argi);
    if (expr != NULL) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            fprintf(stderr, "pcap_count: bad filter: %s\n", pcap_geterr(p));
            pcap_close(p);
            free(expr);
            return 2;
        }
        if (pcap_setfilter(p, &prog) != 0) {
            fprintf(stderr, "pcap_count: cannot install filter: %s\n", pcap_geterr(p));
            pcap_freecode(&prog);
            pcap_close(p);
            free(expr);
            return 2;
        }
        pcap_freecode(&prog);
        free(expr);
    }

    uint64_t packets = 0;
    uint64_t bytes = 0;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(p, &hdr, &data)) == 1) {
        packets++;
        bytes += hdr->caplen;
    }

    int status = 0;
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "pcap_count: read error after %llu packets: %s\n",
                (unsigned long long)packets, pcap_geterr(p));
        status = 1;
    }
    printf("packets=%llu bytes=%llu\n", (unsigned long long)packets,
           (unsigned long long)bytes);
    pcap_close(p);
    return status;
}
