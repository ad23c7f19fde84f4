// A load generator for bench/serve_bench.py: N keep-alive connections send one
// request body over and over to a path on loopback for a fixed time, and it
// prints one line of JSON — requests/s, latency percentiles, errors.
//
// Closed loop by default (each connection sends its next request when the
// last is answered: the peak rate). With --rate R, open loop: requests are
// scheduled at R per second across the connections and each latency counts from
// its scheduled time, so a slow answer is not hidden by the requests it delayed
// (a request due while its connection still waits for an answer goes out when
// that answer comes, and its latency still counts from when it was due; one
// due within kEarly of a wake-up goes out with it).
//
// One thread drives every connection through epoll, with a timerfd for the
// schedule: the load shares the server's cores on this machine, and a thread
// per connection spent a quarter of a core on its own wake-ups.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as the timerfd

// Open loop: a request due within this much of a wake-up goes out with it. On
// a virtual machine every wake-up from idle is costly, and one per request
// spent the cores the server needs; sending early only bunches the load (and
// its latency counts from when it was sent, not from when it was due).
constexpr auto kEarly = std::chrono::microseconds(250);

struct Conn {
  int fd = -1;
  bool busy = false;       // a request is out, its answer not complete
  Clock::time_point sent;  // when the request out was due (open loop) or sent
  Clock::time_point due;   // open loop: when the next request is due
  std::string in;          // the answer so far
};

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, const std::string& s) {
  for (std::size_t at = 0; at < s.size();) {
    const ssize_t n = ::send(fd, s.data() + at, s.size() - at, MSG_NOSIGNAL);
    if (n > 0) {
      at += std::size_t(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;  // (a request of a few hundred bytes: the socket's buffer has room)
    } else {
      return false;
    }
  }
  return true;
}

// The status of a complete answer at the front of `in` (removed from it), 0 when
// it is not complete yet, -1 when it cannot be read.
int take_answer(std::string& in) {
  const std::size_t head = in.find("\r\n\r\n");
  if (head == std::string::npos) return 0;
  if (in.compare(0, 9, "HTTP/1.1 ") != 0 && in.compare(0, 9, "HTTP/1.0 ") != 0) return -1;
  const int status = std::atoi(in.c_str() + 9);
  std::size_t length = 0;
  for (std::size_t at = in.find("\r\n"); at < head; at = in.find("\r\n", at + 2)) {
    static const char key[] = "content-length:";
    if (at + 2 + sizeof key - 1 > head) break;
    if (strncasecmp(in.c_str() + at + 2, key, sizeof key - 1) == 0) length = std::strtoul(in.c_str() + at + 2 + sizeof key - 1, nullptr, 10);
  }
  if (in.size() < head + 4 + length) return 0;
  in.erase(0, head + 4 + length);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"HTTP load on loopback"};
  int port = 8080, connections = 1;
  double seconds = 5, rate = 0;
  std::string path = "/v1/predict", body = R"({"texts": ["this movie was great"]})";
  app.add_option("--port", port)->required();
  app.add_option("--connections", connections)->check(CLI::Range(1, 10000));
  app.add_option("--seconds", seconds);
  app.add_option("--rate", rate, "requests/s in all (0: as fast as answers come)");
  app.add_option("--path", path);
  app.add_option("--body", body);
  CLI11_PARSE(app, argc, argv);
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\n\r\n" + body;
  long errors = 0;
  auto error = [&](const std::string& what) {
    if (errors++ == 0) std::fprintf(stderr, "serve_load: first error: %s\n", what.c_str());
  };

  // Connected and warm before the clock starts: steady-state keep-alive
  // traffic, not N connections knocking at once on a listen backlog.
  std::vector<Conn> conns(static_cast<std::size_t>(connections));
  for (Conn& c : conns) {
    for (int attempt = 0; c.fd < 0 && attempt < 50; ++attempt) {
      c.fd = connect_to(port);
      if (c.fd < 0) ::usleep(20000);
    }
    if (c.fd < 0) {
      std::fprintf(stderr, "serve_load: cannot connect to 127.0.0.1:%d: %s\n", port, std::strerror(errno));
      return 1;
    }
    char buf[4096];
    int status = 0;
    if (send_all(c.fd, request))
      while (status == 0) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n <= 0) { status = -1; break; }
        c.in.append(buf, std::size_t(n));
        status = take_answer(c.in);
      }
    if (status != 200) error("warm-up answer " + std::to_string(status));
  }

  const int ep = ::epoll_create1(0), timer = ::timerfd_create(CLOCK_MONOTONIC, 0);
  for (std::size_t i = 0; i < conns.size(); ++i) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
  }
  epoll_event te{};
  te.events = EPOLLIN;
  te.data.u64 = conns.size();
  ::epoll_ctl(ep, EPOLL_CTL_ADD, timer, &te);

  const auto start = Clock::now() + std::chrono::milliseconds(100);
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const auto gap = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(rate > 0 ? connections / rate : 0));
  for (std::size_t i = 0; i < conns.size(); ++i)  // open loop: connection i sends at start + (i + k N) / rate
    conns[i].due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(rate > 0 ? double(i) / rate : 0));
  std::vector<double> latency;

  auto send_next = [&](Conn& c, Clock::time_point now) {
    c.sent = rate > 0 ? std::min(c.due, now) : now;  // (sent early: its latency counts from the sending)
    c.due += gap;
    c.busy = true;
    if (!send_all(c.fd, request)) {
      error(std::string("send: ") + std::strerror(errno));
      c.busy = false;
    }
  };
  Clock::time_point armed{};
  auto arm = [&](Clock::time_point at) {
    if (at == armed) return;
    armed = at;
    itimerspec t{};
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
    t.it_value.tv_sec = ns / 1000000000;
    t.it_value.tv_nsec = ns % 1000000000;
    if (t.it_value.tv_sec == 0 && t.it_value.tv_nsec == 0) t.it_value.tv_nsec = 1;
    ::timerfd_settime(timer, TFD_TIMER_ABSTIME, &t, nullptr);
  };

  arm(start);
  bool started = false;
  std::vector<epoll_event> events(conns.size() + 1);
  char buf[65536];
  for (;;) {
    const auto now = Clock::now();
    if (now >= end && std::none_of(conns.begin(), conns.end(), [](const Conn& c) { return c.busy; })) break;
    if (!started && now >= start) {
      started = true;
      if (rate <= 0)
        for (Conn& c : conns) send_next(c, now);
    }
    if (started && rate > 0) {  // send what is due on idle connections; wake for the next one
      Clock::time_point next = end;
      for (Conn& c : conns) {
        if (!c.busy && c.due < end && c.due <= now + kEarly) send_next(c, now);
        if (!c.busy && c.due < end) next = std::min(next, c.due);
      }
      arm(next);
    }
    const int n = ::epoll_wait(ep, events.data(), int(events.size()), 1000);
    if (n < 0 && errno != EINTR) {
      std::perror("serve_load: epoll_wait");
      return 1;
    }
    for (int k = 0; k < n; ++k) {
      const std::size_t i = events[std::size_t(k)].data.u64;
      if (i == conns.size()) {
        uint64_t expirations;
        if (::read(timer, &expirations, sizeof expirations) < 0) {}
        armed = {};
        continue;
      }
      Conn& c = conns[i];
      const ssize_t got = ::recv(c.fd, buf, sizeof buf, 0);
      if (got <= 0) {
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        error("the server closed a connection");
        ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        c.in.clear();
        c.fd = connect_to(port);
        if (c.fd >= 0) {
          epoll_event e{};
          e.events = EPOLLIN;
          e.data.u64 = i;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &e);
        }
        if (c.busy) latency.push_back(std::chrono::duration<double>(Clock::now() - c.sent).count());
        c.busy = false;
        if (c.fd < 0) c.due = end;  // (this connection is done)
        continue;
      }
      c.in.append(buf, std::size_t(got));
      const int status = take_answer(c.in);
      if (status == 0) continue;
      const auto at = Clock::now();
      if (status != 200) error(status < 0 ? std::string("an answer that is not HTTP") : "status " + std::to_string(status));
      latency.push_back(std::chrono::duration<double>(at - c.sent).count());
      c.busy = false;
      if (at < end && (rate <= 0 || c.due <= at)) send_next(c, at);
    }
  }
  for (Conn& c : conns)
    if (c.fd >= 0) ::close(c.fd);

  std::sort(latency.begin(), latency.end());
  auto pct = [&](double p) {
    return latency.empty() ? 0.0 : latency[std::min(latency.size() - 1, std::size_t(p * double(latency.size())))];
  };
  nlohmann::ordered_json j;
  j["connections"] = connections;
  j["rate"] = rate;
  j["seconds"] = seconds;
  j["requests"] = latency.size();
  j["errors"] = errors;
  j["requests_per_s"] = double(latency.size()) / seconds;
  j["p50_ms"] = pct(0.50) * 1e3;
  j["p99_ms"] = pct(0.99) * 1e3;
  j["max_ms"] = latency.empty() ? 0.0 : latency.back() * 1e3;
  std::printf("%s\n", j.dump().c_str());
}
