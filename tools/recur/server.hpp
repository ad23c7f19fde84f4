// recur serve — an HTTP front door to the library: predictions (dynamically
// batched), generation (streamed as server-sent events), explanations, and the
// explorer page that draws them. docs/serve.md documents the API.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace recur_cli {

struct ServeOptions {
  std::vector<std::string> models;  // PATH (named by its file name without extension) or NAME=PATH
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port (printed on stderr)
  int threads = 8;                  // HTTP worker threads
  int max_batch = 64;               // texts read in one batch; 1: no batching
  double max_wait_ms = 0;           // how long a batch waits for more requests (0: it takes what is waiting)
  std::size_t max_body = 1 << 20;   // bytes of a request body
  int queue = 1024;                 // predict requests waiting for a batch before 503
  std::string token_file;           // when set: every API request needs Authorization: Bearer <token>
  int timeout_s = 5;                // a client that sends or reads nothing this long is dropped
};

// Serves until SIGTERM or SIGINT (then finishes what is in flight and returns
// 0); SIGHUP reloads the model files. Throws recur::Error for bad options or
// model files at start.
int serve(const ServeOptions& o);

}  // namespace recur_cli
