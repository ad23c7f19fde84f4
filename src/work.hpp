// work.hpp (private to the library) — independent pieces of work spread over
// threads: inference over many texts (classifier predict, seq2seq decoding
// and evaluation). Each returns once every thread is done; an error goes to
// the caller, the first in the work's own order.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace recur {

// Runs work(k) for k in [0, n) on threads of their own, k = 0 on the caller's.
template <class W>
void on_threads(std::size_t n, W work) {
  std::vector<std::thread> pool;
  for (std::size_t k = 1; k < n; ++k) pool.emplace_back(work, k);
  if (n > 0) work(std::size_t(0));
  for (auto& t : pool) t.join();
}

// Runs `f(first, last)` on up to `threads` threads, each over its own
// contiguous part of [0, n) (parts of at least `least` items; the results do
// not depend on the split).
template <class F>
void in_parts(std::size_t n, std::size_t least, int threads, F f) {
  const std::size_t most = std::max<std::size_t>(1, n / std::max<std::size_t>(1, least));
  const std::size_t parts = std::min<std::size_t>(std::size_t(std::max(1, threads)), most);
  auto bound = [&](std::size_t k) { return n * k / parts; };
  if (parts <= 1) return f(std::size_t(0), n);
  std::vector<std::exception_ptr> failed(parts);
  on_threads(parts, [&](std::size_t k) {
    try {
      f(bound(k), bound(k + 1));
    } catch (...) {
      failed[k] = std::current_exception();
    }
  });
  for (const auto& e : failed)
    if (e) std::rethrow_exception(e);
}

// Runs f(job, thread) for jobs [0, n) on up to `threads` threads (numbered
// from 0: what each may keep its own workspace under), each taking the next
// job not yet taken (the jobs may differ in cost).
template <class F>
void jobs_on_threads(std::size_t n, int threads, F f) {
  const std::size_t T = std::min<std::size_t>(std::size_t(std::max(1, threads)), n);
  if (T <= 1) {
    for (std::size_t j = 0; j < n; ++j) f(j, std::size_t(0));
    return;
  }
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> failed(n);
  on_threads(T, [&](std::size_t thread) {
    for (std::size_t j; (j = next++) < n;) try {
        f(j, thread);
      } catch (...) {
        failed[j] = std::current_exception();
      }
  });
  for (const auto& e : failed)
    if (e) std::rethrow_exception(e);
}

}  // namespace recur
