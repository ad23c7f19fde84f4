// A load generator for bench/serve_bench.py: N keep-alive connections send one
// request body over and over to a URL on loopback for a fixed time, and it
// prints one line of JSON — requests/s, latency percentiles, errors.
//
// Closed loop by default (each connection sends its next request when the
// last is answered: the peak rate). With --rate R, open loop: requests are
// scheduled at R per second across the connections and each latency counts from
// its scheduled time, so a slow answer is not hidden by the requests it delayed.
#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"HTTP load on loopback"};
  int port = 8080, connections = 1;
  double seconds = 5, rate = 0;
  std::string path = "/v1/predict", body = R"({"texts": ["this movie was great"]})";
  app.add_option("--port", port)->required();
  app.add_option("--connections", connections);
  app.add_option("--seconds", seconds);
  app.add_option("--rate", rate, "requests/s in all (0: as fast as answers come)");
  app.add_option("--path", path);
  app.add_option("--body", body);
  CLI11_PARSE(app, argc, argv);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now() + std::chrono::milliseconds(500);
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::vector<double>> latency(static_cast<std::size_t>(connections));
  std::atomic<long> errors{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c)
    threads.emplace_back([&, c] {
      httplib::Client cli("127.0.0.1", port);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      cli.set_read_timeout(10, 0);
      auto& lat = latency[std::size_t(c)];
      // Connected and warm before the clock starts: steady-state keep-alive
      // traffic, not 64 connections knocking at once on a listen backlog.
      for (int attempt = 0;; ++attempt) {  // (a connection refused at once, with 64 arriving together, tries again)
        auto r = cli.Post(path.c_str(), body, "application/json");
        if (r && r->status == 200) break;
        if (attempt == 5) {
          ++errors;
          std::fprintf(stderr, "serve_load: cannot connect: %s\n", r ? ("status " + std::to_string(r->status)).c_str()
                                                                        : httplib::to_string(r.error()).c_str());
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      // Open loop: connection c sends at start + (c + k * connections) / rate.
      const double gap = rate > 0 ? double(connections) / rate : 0;
      auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(rate > 0 ? c / rate : 0));
      std::this_thread::sleep_until(due);
      for (long k = 0;; ++k) {
        const auto sent = rate > 0 ? due : Clock::now();
        if (sent >= end) break;
        if (rate > 0) std::this_thread::sleep_until(due);
        auto r = cli.Post(path.c_str(), body, "application/json");
        const auto got = Clock::now();
        if (!r || r->status != 200) {
          if (errors++ == 0)
            std::fprintf(stderr, "serve_load: first error: %s\n",
                         r ? ("status " + std::to_string(r->status)).c_str() : httplib::to_string(r.error()).c_str());
        }
        lat.push_back(std::chrono::duration<double>(got - sent).count());
        if (rate > 0) due += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap));
      }
    });
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (const auto& l : latency) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, std::size_t(p * double(all.size())))]; };
  nlohmann::ordered_json j;
  j["connections"] = connections;
  j["rate"] = rate;
  j["seconds"] = seconds;
  j["requests"] = all.size();
  j["errors"] = errors.load();
  j["requests_per_s"] = double(all.size()) / seconds;
  j["p50_ms"] = pct(0.50) * 1e3;
  j["p99_ms"] = pct(0.99) * 1e3;
  j["max_ms"] = all.empty() ? 0.0 : all.back() * 1e3;
  std::printf("%s\n", j.dump().c_str());
}
