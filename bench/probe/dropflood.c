// dropflood: send COUNT one-byte UDP datagrams to a closed port on 127.0.0.1, each a
// NO_SOCKET drop in the kernel, as fast as one CPU can, and say how long it took.
//
// usage: dropflood COUNT [PORT] [BATCH]
//   PORT  closed UDP port on 127.0.0.1 (default 9)
//   BATCH datagrams per sendmmsg() call (default 64): fewer system calls, so more of the
//         time is the kernel's receive path, where the probe runs
//
// On loopback the datagram's whole receive path (IP, UDP, the drop, the ICMP "port
// unreachable" it causes) runs in this process's own context: the softirq runs on the same
// CPU when the send path re-enables bottom halves. So with one CPU and nothing else running,
// this process's wall time per datagram is the kernel's cost per drop, probe included. Its
// CPU time (getrusage) is printed too, but with IRQ time accounting (Debian's kernels) the
// softirq part is charged to no task, so it under-counts.
//
// The socket is not connected: a connected UDP socket would get the ICMP error back as
// ECONNREFUSED on the next send.
//
// With BENCH_MARK set in the environment it also writes "@@mark begin" and "@@mark end" lines
// to stderr right around the timed loop: the benchmark points stderr at the guest's serial
// console, and the host reads the emulated CPU's time when it sees them.
//
// stdout, one line: sent=<n> wall_ns=<n> cpu_ns=<n>
// exit status 1 when any send failed (the datagrams not sent would not be drops).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long ns_of(struct timespec t) { return (long long)t.tv_sec * 1000000000LL + t.tv_nsec; }
static long long tv_ns(struct timeval t) { return (long long)t.tv_sec * 1000000000LL + (long long)t.tv_usec * 1000LL; }

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s COUNT [PORT] [BATCH]\n", argv[0]);
    return 2;
  }
  long count = strtol(argv[1], NULL, 10);
  int port = argc > 2 ? atoi(argv[2]) : 9;
  int batch = argc > 3 ? atoi(argv[3]) : 64;
  if (count < 1 || port < 1 || port > 65535 || batch < 1 || batch > 1024) {
    fprintf(stderr, "dropflood: bad arguments\n");
    return 2;
  }

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("dropflood: socket");
    return 1;
  }
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  char byte = 'x';
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  struct mmsghdr *msgs = calloc((size_t)batch, sizeof *msgs);
  if (!msgs) return 1;
  for (int i = 0; i < batch; i++) {
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  int mark = getenv("BENCH_MARK") != NULL;
  struct timespec t0, t1;
  struct rusage r0, r1;
  if (mark) fputs("@@mark begin\n", stderr);
  getrusage(RUSAGE_SELF, &r0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long sent = 0;
  int failed = 0;
  while (sent < count) {
    unsigned int n = (unsigned int)(count - sent < batch ? count - sent : batch);
    int k = sendmmsg(fd, msgs, n, 0);
    if (k < 0) {
      perror("dropflood: sendmmsg");
      failed = 1;
      break;
    }
    sent += k;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  getrusage(RUSAGE_SELF, &r1);
  if (mark) fputs("@@mark end\n", stderr);
  long long cpu = tv_ns(r1.ru_utime) + tv_ns(r1.ru_stime) - tv_ns(r0.ru_utime) - tv_ns(r0.ru_stime);
  printf("sent=%ld wall_ns=%lld cpu_ns=%lld\n", sent, ns_of(t1) - ns_of(t0), cpu);
  return failed;
}
