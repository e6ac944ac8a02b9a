/*
 * udp_load: closed-loop UDP load generator for the labnode socket benchmarks.
 *
 * Keeps W requests in flight against 127.0.0.1:PORT, one UDP socket per slot, each slot
 * sending its next request only after the reply to the previous one arrived (closed loop).
 * Requests are taken round-robin from a fixed mix, so every server sees the same sequence.
 * A reply that does not come within the timeout counts as lost: the slot's socket is closed
 * (so a late reply cannot be mistaken for the next one) and the request is re-sent from a
 * fresh socket. Stops after N measured replies or T measured seconds, whichever comes first,
 * and prints one JSON object on stdout.
 *
 * Usage: udp_load -p PORT [-w INFLIGHT] [-n REQUESTS] [-t SECONDS] [-W WARMUP_SECONDS]
 *                 [-o TIMEOUT_MS] -m "json_wn,raw,cn00#raw,..."
 *
 * Only 127.0.0.1 is ever targeted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 1024
#define MAX_MIX 256
#define REPLY_BUF 65536

typedef struct {
    int fd;
    int busy;            /* a request is outstanding */
    int64_t sent_ns;     /* when the outstanding request was (re-)sent */
    size_t mix_index;    /* which request of the mix is outstanding */
} slot_t;

static const char *mix_items[MAX_MIX];
static size_t mix_lens[MAX_MIX];
static size_t mix_count;
static size_t mix_next;
static struct sockaddr_in target;
static int epoll_fd;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void die(const char *what) {
    fprintf(stderr, "udp_load: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* Open a connected, non-blocking UDP socket for slot `index` and register it with epoll. */
static int open_slot_socket(int index) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0) die("connect");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)index};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    return fd;
}

static void send_request(slot_t *slot) {
    const char *item = mix_items[slot->mix_index];
    slot->sent_ns = now_ns();
    slot->busy = 1;
    /* ECONNREFUSED (server gone) or ENOBUFS: treat like a lost datagram, the timeout re-sends. */
    (void)send(slot->fd, item, mix_lens[slot->mix_index], 0);
}

static void start_next(slot_t *slot) {
    slot->mix_index = mix_next;
    mix_next = (mix_next + 1) % mix_count;
    send_request(slot);
}

static void usage(void) {
    fprintf(stderr,
            "usage: udp_load -p PORT -m MIX [-w INFLIGHT] [-n REQUESTS] [-t SECONDS]\n"
            "                [-W WARMUP_SECONDS] [-o TIMEOUT_MS]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int port = 0, inflight = 16, opt;
    long max_requests = 1000000;
    double seconds = 3.0, warmup_seconds = 0.5, timeout_ms = 200.0;
    char *mix_arg = NULL;

    while ((opt = getopt(argc, argv, "p:w:n:t:W:o:m:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'w': inflight = atoi(optarg); break;
        case 'n': max_requests = atol(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 'W': warmup_seconds = atof(optarg); break;
        case 'o': timeout_ms = atof(optarg); break;
        case 'm': mix_arg = strdup(optarg); break;
        default: usage();
        }
    }
    if (port <= 0 || port > 65535 || !mix_arg || inflight < 1 || inflight > MAX_SLOTS ||
        max_requests < 1 || seconds <= 0 || seconds > 600 || warmup_seconds < 0 ||
        timeout_ms <= 0)
        usage();
    for (char *tok = strtok(mix_arg, ","); tok && mix_count < MAX_MIX; tok = strtok(NULL, ",")) {
        mix_items[mix_count] = tok;
        mix_lens[mix_count] = strlen(tok);
        mix_count++;
    }
    if (mix_count == 0) usage();

    memset(&target, 0, sizeof target);
    target.sin_family = AF_INET;
    target.sin_port = htons((uint16_t)port);
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */

    uint32_t *latencies_ns = malloc(sizeof(uint32_t) * (size_t)max_requests);
    static char reply[REPLY_BUF];
    slot_t slots[MAX_SLOTS];
    if (!latencies_ns) die("malloc");
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) die("epoll_create1");

    int64_t timeout_ns = (int64_t)(timeout_ms * 1e6);
    int64_t t_begin = now_ns();
    int64_t t_measure = t_begin + (int64_t)(warmup_seconds * 1e9);
    int64_t t_end = t_measure + (int64_t)(seconds * 1e9);
    int64_t t_stop = 0;
    long measured = 0, warmup_replies = 0, lost = 0, unknown = 0, send_errors = 0;
    long long reply_bytes = 0;

    for (int i = 0; i < inflight; i++) {
        slots[i].fd = open_slot_socket(i);
        start_next(&slots[i]);
    }

    struct epoll_event events[MAX_SLOTS];
    int running = 1;
    while (running) {
        int64_t now = now_ns();
        if (now >= t_end) break;
        /* Sleep at most until the earliest loss deadline or the end of the run. */
        int64_t wake = t_end;
        for (int i = 0; i < inflight; i++)
            if (slots[i].busy && slots[i].sent_ns + timeout_ns < wake)
                wake = slots[i].sent_ns + timeout_ns;
        int wait_ms = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
        int ready = epoll_wait(epoll_fd, events, inflight, wait_ms);
        if (ready < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int e = 0; e < ready && running; e++) {
            /* One recv per readiness event: a slot has at most one reply outstanding, and epoll is
             * level-triggered, so a stray extra datagram is reported again. */
            slot_t *slot = &slots[events[e].data.u32];
            ssize_t got = recv(slot->fd, reply, sizeof reply, 0);
            if (got < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
                if (errno == ECONNREFUSED) { send_errors++; continue; }
                die("recv");
            }
            if (!slot->busy) continue; /* nothing outstanding: stray datagram */
            int64_t done = now_ns();
            if (slot->sent_ns >= t_measure) {
                latencies_ns[measured++] = (uint32_t)(done - slot->sent_ns);
                reply_bytes += got;
                if (got >= 16 && memcmp(reply, "UNKNOWN_COMMMAND", 16) == 0) unknown++;
                if (measured >= max_requests) {
                    t_stop = done;
                    running = 0;
                    break;
                }
            } else {
                warmup_replies++;
            }
            if (done >= t_end) { running = 0; break; }
            start_next(slot);
        }
        /* Lost datagrams: fresh socket, re-send the same request. */
        now = now_ns();
        for (int i = 0; i < inflight && running; i++) {
            if (slots[i].busy && now - slots[i].sent_ns > timeout_ns) {
                lost++;
                close(slots[i].fd);
                slots[i].fd = open_slot_socket(i);
                send_request(&slots[i]);
            }
        }
    }
    if (!t_stop) t_stop = now_ns();
    double elapsed_s = (double)(t_stop - t_measure) / 1e9;
    /* Our own CPU use over the whole run: near 100 % would mean the client is the limit. */
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                   usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    double run_s = (double)(t_stop - t_begin) / 1e9;
    if (elapsed_s <= 0) elapsed_s = 1e-9;

    double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
    if (measured > 0) {
        qsort(latencies_ns, (size_t)measured, sizeof(uint32_t), cmp_u32);
        long double sum = 0;
        for (long i = 0; i < measured; i++) sum += latencies_ns[i];
        mean = (double)(sum / measured) / 1e3;
        p50 = latencies_ns[(measured - 1) * 50 / 100] / 1e3;
        p90 = latencies_ns[(measured - 1) * 90 / 100] / 1e3;
        p99 = latencies_ns[(measured - 1) * 99 / 100] / 1e3;
        p999 = latencies_ns[(measured - 1) * 999 / 1000] / 1e3;
        max = latencies_ns[measured - 1] / 1e3;
    }
    printf("{\"client\": \"c\", \"inflight\": %d, \"requests\": %ld, \"elapsed_s\": %.6f, "
           "\"rps\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
           "\"p999_us\": %.1f, \"max_us\": %.1f, \"mean_us\": %.1f, \"lost\": %ld, "
           "\"unknown_replies\": %ld, \"send_errors\": %ld, \"warmup_replies\": %ld, "
           "\"mean_reply_bytes\": %.1f, \"client_cpu_share\": %.3f}\n",
           inflight, measured, elapsed_s, measured / elapsed_s, p50, p90, p99, p999, max, mean,
           lost, unknown, send_errors, warmup_replies,
           measured ? (double)reply_bytes / measured : 0.0, run_s > 0 ? cpu_s / run_s : 0.0);
    for (int i = 0; i < inflight; i++) close(slots[i].fd);
    close(epoll_fd);
    free(latencies_ns);
    free(mix_arg);
    return 0;
}
