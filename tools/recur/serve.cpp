// recur serve — the command's flags; the server is server.cpp.
#include <memory>

#include "common.hpp"
#include "server.hpp"

namespace recur_cli {

void setup_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve models over HTTP: POST /v1/predict (batched), /v1/generate (streams with\n"
      "\"stream\": true), /v1/explain; GET /v1/models, /healthz, /metrics; and at / a page\n"
      "that shows what the network does as it reads (docs/serve.md). Loopback by default.\n"
      "SIGTERM finishes what is in flight and exits; SIGHUP reloads the model files.");
  cmd->add_option("--model", o->models, "A model file, or NAME=PATH; give it again to serve more")->required();
  cmd->add_option("--host", o->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "Port (0: any free port, printed on stderr)")->capture_default_str();
  cmd->add_option("--threads", o->threads, "HTTP worker threads")->capture_default_str();
  cmd->add_option("--max-batch", o->max_batch, "Texts read in one batched pass (1: no batching)")->capture_default_str();
  cmd->add_option("--max-wait-ms", o->max_wait_ms, "How long a batch waits for more requests")->capture_default_str();
  cmd->add_option("--max-body", o->max_body, "Largest request body in bytes (larger: 413)")->capture_default_str();
  cmd->add_option("--queue", o->queue, "Predict requests waiting for a batch before 503")->capture_default_str();
  cmd->add_option("--token-file", o->token_file,
                  "File holding a token; every API request must then send Authorization: Bearer <token>")
      ->check(CLI::ExistingFile);
  cmd->add_option("--timeout", o->timeout_s, "Seconds a client may stay silent before it is dropped")
      ->capture_default_str();
  cmd->callback([o] {
    const int rc = serve(*o);
    if (rc != 0) throw recur::Error("the server stopped with status " + std::to_string(rc));
  });
}

}  // namespace recur_cli
