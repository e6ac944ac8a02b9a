/*
 * udp_fixed_server: the trivial C ceiling for the labnode socket benchmarks.
 *
 * Binds 127.0.0.1 on an ephemeral port, prints "PORT <n>" on stdout, then answers every
 * datagram with one fixed reply (the size of a 10-codename `raw` table): blocking recvfrom,
 * sendto.
 * Exits when its stdin reaches end of file (the parent went away) or after LIFETIME seconds.
 *
 * Usage: udp_fixed_server [LIFETIME_SECONDS]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char FIXED_REPLY[] =
    "1763926800.123456,0.8414709848078965;1763926800.123457,0.9092974268256817;"
    "1763926800.123458,0.1411200080598672;1763926800.123459,-0.7568024953079282;"
    "1763926800.12346,-0.9589242746631385;1763926800.123461,-0.27941549819892586;"
    "1763926800.123462,0.6569865987187891;1763926800.123463,0.9893582466233818;"
    "1763926800.123464,0.4121184852417566;1763926800.123465,-0.5440211108893698";

int main(int argc, char **argv) {
    double lifetime_s = argc > 1 ? atof(argv[1]) : 300.0;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("socket"); return 2; }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 2; }
    socklen_t addr_len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &addr_len);
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    /* Blocking recvfrom with a receive timeout: while idle, check stdin EOF and the deadline. */
    struct timeval idle_check = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle_check, sizeof idle_check);
    time_t deadline = time(NULL) + (time_t)lifetime_s;
    char request[2048];
    struct pollfd parent_stdin = {.fd = 0, .events = POLLIN};
    for (;;) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        ssize_t got = recvfrom(fd, request, sizeof request, 0, (struct sockaddr *)&peer,
                               &peer_len);
        if (got >= 0) {
            sendto(fd, FIXED_REPLY, sizeof FIXED_REPLY - 1, 0, (struct sockaddr *)&peer,
                   peer_len);
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) perror("recvfrom");
        if (time(NULL) >= deadline) break;
        if (poll(&parent_stdin, 1, 0) > 0) {
            char sink[64];
            if (read(0, sink, sizeof sink) <= 0) break; /* stdin closed: parent is done */
        }
    }
    close(fd);
    return 0;
}
