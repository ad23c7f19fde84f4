// recur serve: the HTTP server (what it answers: docs/serve.md). It parses
// requests, queues and batches them, and turns the library's answers into JSON;
// every prediction, sample and explanation is a call to recur::Classifier or
// recur::LanguageModel.
#include "server.hpp"

#include "recur/tensor.hpp"  // set_blas_threads (first of recur's headers here: it settles Eigen's configuration)

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "recur/classifier.hpp"
#include "recur/language_model.hpp"

namespace recur_cli {

extern const char* const kExplorerHtml;  // tools/recur/explorer.html, compiled in

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// The JSON content type, with its charset: cpp-httplib compresses a body
// typed exactly "application/json" for a client that accepts brotli, at
// brotli's slowest level — seconds for an explanation of a few megabytes.
const char* const kJson = "application/json; charset=utf-8";

// A request the server refuses: its status and a one-line reason.
struct HttpError {
  int status;
  std::string reason;
};

void log_line(const std::string& what) {
  std::fprintf(stderr, "recur: serve: %s\n", what.c_str());
  std::fflush(stderr);
}

// ---- metrics (Prometheus text format) -------------------------------------------

struct Histogram {
  std::vector<double> bounds;
  std::vector<long> counts;  // per bound, not cumulative; the last is +Inf
  double sum = 0;
  long n = 0;
  explicit Histogram(std::vector<double> b = {}) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void add(double x) {
    std::size_t i = 0;
    while (i < bounds.size() && x > bounds[i]) ++i;
    ++counts[i];
    sum += x;
    ++n;
  }
};

class Metrics {
 public:
  void request(const std::string& endpoint, int status, double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_[{endpoint, status}];
    auto it = latency_.find(endpoint);
    if (it == latency_.end())
      it = latency_.emplace(endpoint, Histogram({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}))
               .first;
    it->second.add(seconds);
  }
  void batch(int texts) {
    std::lock_guard<std::mutex> lock(mu_);
    batches_.add(double(texts));
  }
  std::atomic<long> queue_depth{0};

  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    std::ostringstream o;
    o << "# HELP recur_requests_total Requests answered, by endpoint and status.\n"
         "# TYPE recur_requests_total counter\n";
    for (const auto& [k, n] : requests_)
      o << "recur_requests_total{endpoint=\"" << k.first << "\",status=\"" << k.second << "\"} " << n << "\n";
    o << "# HELP recur_request_duration_seconds Time from a request's arrival to its answer.\n"
         "# TYPE recur_request_duration_seconds histogram\n";
    for (const auto& [endpoint, h] : latency_) write(o, "recur_request_duration_seconds", "endpoint=\"" + endpoint + "\",", h);
    o << "# HELP recur_batch_texts Texts read in one batched forward pass.\n"
         "# TYPE recur_batch_texts histogram\n";
    write(o, "recur_batch_texts", "", batches_);
    o << "# HELP recur_queue_depth Predict requests waiting for a batch.\n"
         "# TYPE recur_queue_depth gauge\n"
         "recur_queue_depth " << queue_depth.load() << "\n";
    return o.str();
  }

 private:
  static void write(std::ostream& o, const std::string& name, const std::string& labels, const Histogram& h) {
    long cumulative = 0;
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
      cumulative += h.counts[i];
      o << name << "_bucket{" << labels << "le=\"";
      if (i < h.bounds.size())
        o << h.bounds[i];
      else
        o << "+Inf";
      o << "\"} " << cumulative << "\n";
    }
    const std::string l = labels.empty() ? "" : "{" + labels.substr(0, labels.size() - 1) + "}";
    o << name << "_sum" << l << " " << h.sum << "\n" << name << "_count" << l << " " << h.n << "\n";
  }

  std::mutex mu_;
  std::map<std::pair<std::string, int>, long> requests_;
  std::map<std::string, Histogram> latency_;
  Histogram batches_{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}};
};

// ---- the models ------------------------------------------------------------------

// One named model, replaced whole when its file is reloaded; requests hold the
// version they started with.
struct Slot {
  std::string name, path, task;
  std::shared_ptr<const recur::Classifier> clf;
  std::shared_ptr<const recur::LanguageModel> lm;
};

Slot load_slot(const std::string& name, const std::string& path) {
  Slot s{name, path, recur::model_task(path), nullptr, nullptr};
  if (s.task == "lm")
    s.lm = std::make_shared<const recur::LanguageModel>(recur::LanguageModel::load(path));
  else
    s.clf = std::make_shared<const recur::Classifier>(recur::Classifier::load(path));
  return s;
}

class Registry {
 public:
  void add(Slot s) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Slot& o : slots_)
      if (o.name == s.name) throw recur::Error("--model: two models named '" + s.name + "' (use NAME=PATH)");
    slots_.push_back(std::move(s));
  }
  // The model a request names, or the first one.
  Slot get(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (name.empty()) return slots_.front();
    for (const Slot& s : slots_)
      if (s.name == name) return s;
    throw HttpError{404, "no model named '" + name + "'"};
  }
  std::vector<Slot> all() const {
    std::lock_guard<std::mutex> lock(mu_);
    return slots_;
  }
  // SIGHUP: every file loaded again; one that fails keeps its model serving.
  void reload() {
    for (const Slot& old : all()) {
      try {
        Slot fresh = load_slot(old.name, old.path);
        if (fresh.task != old.task) throw recur::Error(old.path + ": now a " + fresh.task + " model, was " + old.task);
        std::lock_guard<std::mutex> lock(mu_);
        for (Slot& s : slots_)
          if (s.name == old.name) s = std::move(fresh);
        log_line("reloaded " + old.name + " from " + old.path);
      } catch (const std::exception& e) {
        log_line("reload of " + old.name + " failed, still serving the model loaded before: " + e.what());
      }
    }
  }

 private:
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
};

// ---- dynamic batching ------------------------------------------------------------

// Predict requests for one classifier, gathered into batches. There are no
// batching threads: a request that finds fewer than `leaders` batches being read
// reads one itself — its own texts and whatever else is waiting (after up to
// max_wait for more, up to max_batch texts) — and hands the others their
// answers; the rest wait for theirs. Alone, a request is read at once on its
// own thread; under load, batches grow with the queue. The Reader gives every
// text exactly the answer it gets alone (recur/inference.hpp), so batching
// changes no answer.
class PredictQueue {
 public:
  PredictQueue(const Registry& models, std::string name, int max_batch, double max_wait_ms, int capacity,
               int leaders, Metrics& metrics)
      : models_(models), name_(std::move(name)), max_batch_(max_batch), capacity_(capacity), leaders_(leaders),
        metrics_(metrics), max_wait_(std::chrono::microseconds(long(max_wait_ms * 1000))) {}

  // The predictions of `texts`; false when too many requests are waiting.
  bool predict(const std::vector<std::string>& texts, std::vector<recur::Prediction>& out) {
    Job job{&texts, &out, false, {}, {}};
    std::unique_lock<std::mutex> lock(mu_);
    if (int(jobs_.size()) >= capacity_) return false;
    jobs_.push_back(&job);
    metrics_.queue_depth++;
    if (reading_ > 0) arrived_.notify_all();  // a leader may be waiting for more (--max-wait-ms)
    while (!job.done) {
      if (reading_ < leaders_ && !jobs_.empty()) {
        lead(lock);
      } else {
        job.wake.wait(lock);
      }
    }
    if (!job.error.empty()) throw HttpError{500, job.error};
    return true;
  }

 private:
  // Each request waits on its own condition: a finished batch wakes its own
  // requests and, when leaders are free, the oldest waiting ones to lead next,
  // not every waiting thread (with 64 connections, 64 threads woken per batch
  // to find nothing to do were the latency's tail).
  struct Job {
    const std::vector<std::string>* texts;
    std::vector<recur::Prediction>* out;
    bool done;
    std::string error;
    std::condition_variable wake;
  };

  std::size_t waiting_texts() const {
    std::size_t n = 0;
    for (const Job* j : jobs_) n += j->texts->size();
    return n;
  }

  // Reads one batch from the front of the queue (the lock held on entry and exit).
  void lead(std::unique_lock<std::mutex>& lock) {
    ++reading_;
    if (max_wait_.count() > 0) {
      const auto deadline = Clock::now() + max_wait_;
      while (waiting_texts() < std::size_t(max_batch_) && Clock::now() < deadline) arrived_.wait_until(lock, deadline);
    }
    std::vector<Job*> batch;
    std::size_t texts = 0;
    while (!jobs_.empty() && (batch.empty() || texts + jobs_.front()->texts->size() <= std::size_t(max_batch_))) {
      texts += jobs_.front()->texts->size();
      batch.push_back(jobs_.front());
      jobs_.pop_front();
      metrics_.queue_depth--;
    }
    lock.unlock();
    std::vector<std::string> all;
    all.reserve(texts);
    for (const Job* j : batch) all.insert(all.end(), j->texts->begin(), j->texts->end());
    std::string error;
    std::vector<recur::Prediction> preds;
    try {
      preds = models_.get(name_).clf->predict(all);
    } catch (const std::exception& e) {
      error = e.what();
    }
    metrics_.batch(int(texts));
    lock.lock();
    std::size_t at = 0;
    for (Job* j : batch) {
      if (error.empty())
        j->out->assign(preds.begin() + std::ptrdiff_t(at), preds.begin() + std::ptrdiff_t(at + j->texts->size()));
      j->error = error;
      j->done = true;
      j->wake.notify_one();
      at += j->texts->size();
    }
    --reading_;
    int free = leaders_ - reading_;
    for (auto it = jobs_.begin(); it != jobs_.end() && free > 0; ++it, --free) (*it)->wake.notify_one();
  }

  const Registry& models_;
  const std::string name_;
  const int max_batch_, capacity_, leaders_;
  Metrics& metrics_;
  const Clock::duration max_wait_;
  std::mutex mu_;
  std::condition_variable arrived_;  // a request joined the queue
  std::deque<Job*> jobs_;
  int reading_ = 0;  // batches being read now
};

// ---- request bodies ----------------------------------------------------------------

json parse_body(const httplib::Request& req) {
  json j;
  try {
    j = json::parse(req.body);
  } catch (const json::exception&) {
    throw HttpError{400, "the body is not valid JSON"};
  }
  if (!j.is_object()) throw HttpError{400, "the body must be a JSON object"};
  return j;
}

std::string text_field(const json& j, const char* key, bool required, const std::string& fallback = "") {
  if (!j.contains(key)) {
    if (required) throw HttpError{400, std::string("missing field \"") + key + "\""};
    return fallback;
  }
  if (!j[key].is_string()) throw HttpError{400, std::string("\"") + key + "\" must be a string"};
  std::string s = j[key].get<std::string>();
  if (recur::find_invalid_utf8(s) != std::string::npos) throw HttpError{400, std::string("\"") + key + "\" is not valid UTF-8"};
  return s;
}

std::string number_text(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", x);
  return b;
}

double number_field(const json& j, const char* key, double fallback, double lo, double hi) {
  if (!j.contains(key)) return fallback;
  if (!j[key].is_number()) throw HttpError{400, std::string("\"") + key + "\" must be a number"};
  const double x = j[key].get<double>();
  if (!(x >= lo && x <= hi))
    throw HttpError{400, std::string("\"") + key + "\" must be in [" + number_text(lo) + ", " + number_text(hi) + "]"};
  return x;
}

long integer_field(const json& j, const char* key, long fallback, long lo, long hi) {
  if (!j.contains(key)) return fallback;
  if (!j[key].is_number_integer()) throw HttpError{400, std::string("\"") + key + "\" must be an integer"};
  const long x = j[key].get<long>();
  if (x < lo || x > hi)
    throw HttpError{400, std::string("\"") + key + "\" must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"};
  return x;
}

// 4 decimals are plenty to draw a state, and keep an explanation small.
double rounded(float x) { return std::round(double(x) * 1e4) / 1e4; }

json states_json(const recur::HiddenStates& s, std::size_t t) {
  json units = json::array();
  for (int u = 0; u < s.units; ++u) {
    json unit;
    const std::size_t at = (t * std::size_t(s.units) + std::size_t(u)) * std::size_t(s.hidden);
    json h = json::array(), c = json::array(), g = json::array();
    for (int i = 0; i < s.hidden; ++i) h.push_back(rounded(s.h[at + std::size_t(i)]));
    unit["h"] = std::move(h);
    if (!s.c.empty()) {
      for (int i = 0; i < s.hidden; ++i) c.push_back(rounded(s.c[at + std::size_t(i)]));
      unit["c"] = std::move(c);
    }
    if (!s.gate_values.empty()) {
      const std::size_t gat = at * std::size_t(s.gates);
      for (int i = 0; i < s.gates * s.hidden; ++i) g.push_back(rounded(s.gate_values[gat + std::size_t(i)]));
      unit["gates"] = std::move(g);
    }
    units.push_back(std::move(unit));
  }
  return units;
}

json labels_json(const std::vector<std::string>& labels, const std::vector<double>& p) {
  json o = json::object();
  for (std::size_t c = 0; c < labels.size(); ++c) o[labels[c]] = p[c];
  return o;
}

json model_json(const Slot& s) {
  const recur::ModelInfo& i = s.clf ? s.clf->info() : s.lm->info();
  const recur::ModelConfig& c = i.config;
  json j;
  j["name"] = s.name;
  j["task"] = s.task;
  j["cell"] = recur::cell_name(c.cell);
  j["layers"] = c.layers;
  j["hidden"] = c.hidden;
  j["bidirectional"] = c.bidirectional;
  j["embed"] = c.embed;
  if (s.clf) j["pool"] = recur::to_string(c.pool);
  if (c.subwords.enabled()) j["subwords"] = {{"ngrams", recur::to_string(c.subwords)}, {"buckets", c.subwords.buckets}};
  j["tokenizer"] = recur::to_string(i.tokenizer);
  j["normalization"] = recur::to_string(i.normalization);
  j["vocab_size"] = i.vocab.size();
  if (s.clf) j["labels"] = i.labels;
  return j;
}

// cpp-httplib 0.11 listens with a backlog of 5: a burst of clients connecting
// at once would see some connections dropped and retried a second later.
class HttpServer : public httplib::Server {
 public:
  void raise_backlog(int n) { ::listen(svr_sock_, n); }  // (listen again: Linux takes the new backlog)
};

volatile std::sig_atomic_t g_stop = 0, g_reload = 0;
extern "C" void on_stop(int) { g_stop = 1; }
extern "C" void on_reload(int) { g_reload = 1; }

class Server {
 public:
  explicit Server(const ServeOptions& o) : o_(o) {
    if (o.models.empty()) throw recur::Error("recur serve needs --model PATH (or NAME=PATH; give it again for more)");
    if (o.threads < 1) throw recur::Error("--threads must be at least 1");
    if (o.max_batch < 1) throw recur::Error("--max-batch must be at least 1 (1: no batching)");
    if (!(o.max_wait_ms >= 0 && o.max_wait_ms <= 1000)) throw recur::Error("--max-wait-ms must be in [0, 1000]");
    if (o.queue < 1) throw recur::Error("--queue must be at least 1");
    if (o.max_body < 64) throw recur::Error("--max-body must be at least 64 bytes");
    if (o.timeout_s < 1) throw recur::Error("--timeout must be at least 1 second");
    if (!o.token_file.empty()) {
      std::ifstream in(o.token_file);
      if (!in) throw recur::Error(o.token_file + ": cannot read the token file");
      std::getline(in, token_);
      while (!token_.empty() && (token_.back() == '\r' || token_.back() == ' ')) token_.pop_back();
      if (token_.empty()) throw recur::Error(o.token_file + ": the token file is empty");
    }
    for (const std::string& m : o.models) {
      const std::size_t eq = m.find('=');
      std::string name = eq == std::string::npos ? "" : m.substr(0, eq), path = eq == std::string::npos ? m : m.substr(eq + 1);
      if (name.empty()) {
        name = path.substr(path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/') + 1);
        name = name.substr(0, name.find('.'));
      }
      models_.add(load_slot(name, path));
    }
    const int leaders = int(std::max(1u, std::min(4u, std::thread::hardware_concurrency())));  // batches read at once
    if (o.max_batch > 1)
      for (const Slot& s : models_.all())
        if (s.clf)
          queues_[s.name] = std::make_unique<PredictQueue>(models_, s.name, o.max_batch, o.max_wait_ms, o.queue,
                                                           leaders, metrics_);
  }

  int run() {
    // Requests run side by side, each on its own worker: one BLAS thread for
    // each, as a request's products are too small to share out.
    recur::set_blas_threads(1);
    HttpServer http;
    http.new_task_queue = [this] { return new httplib::ThreadPool(std::size_t(o_.threads)); };
    http.set_payload_max_length(o_.max_body);
    http.set_tcp_nodelay(true);  // answers are small: no Nagle delay
    http.set_read_timeout(o_.timeout_s, 0);
    http.set_write_timeout(o_.timeout_s, 0);
    // An idle keep-alive connection holds a worker until it sends again or this
    // runs out, and a stop waits for it: short.
    http.set_keep_alive_timeout(1);
    http.set_keep_alive_max_count(1000000);  // a client may keep its connection for as many requests as it likes
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (token_.empty() || (req.method == "GET" && req.path == "/")) return httplib::Server::HandlerResponse::Unhandled;
      if (authorized(req.get_header_value("Authorization"))) return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("WWW-Authenticate", "Bearer");
      answer_error(res, 401, "missing or wrong bearer token (Authorization: Bearer <token>)");
      metrics_.request(endpoint_of(req.path), 401, 0);
      return httplib::Server::HandlerResponse::Handled;
    });
    http.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kExplorerHtml, "text/html; charset=utf-8"); });
    http.Get("/healthz", handler("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"ok\"}", kJson);
    }));
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.text(), "text/plain; version=0.0.4");
    });
    http.Get("/v1/models", handler("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      json list = json::array();
      for (const Slot& s : models_.all()) list.push_back(model_json(s));
      res.set_content(json{{"models", list}}.dump(), kJson);
    }));
    http.Post("/v1/predict", handler("/v1/predict", [this](const httplib::Request& req, httplib::Response& res) { predict(req, res); }));
    http.Post("/v1/generate", handler("/v1/generate", [this](const httplib::Request& req, httplib::Response& res) { generate(req, res); }));
    http.Post("/v1/explain", handler("/v1/explain", [this](const httplib::Request& req, httplib::Response& res) { explain(req, res); }));
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;  // a handler's own answer
      const std::string what = res.status == 413   ? "the body is larger than --max-body (" + std::to_string(o_.max_body) + " bytes)"
                               : res.status == 404 ? "no such endpoint: " + req.method + " " + req.path
                                                   : "request failed";
      answer_error(res, res.status, what);
      metrics_.request(endpoint_of(req.path), res.status, 0);
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      answer_error(res, 500, "internal error");
    });

    int port = o_.port;
    if (port == 0) {
      port = http.bind_to_any_port(o_.host);
      if (port < 0) throw recur::Error("--host " + o_.host + ": cannot listen");
    } else if (!http.bind_to_port(o_.host, port)) {
      throw recur::Error("--port " + std::to_string(port) + ": cannot listen on " + o_.host + " (in use?)");
    }
    http.raise_backlog(512);
    g_stop = g_reload = 0;  // (before the line below: whoever reads it may signal at once)
    std::signal(SIGTERM, on_stop);
    std::signal(SIGINT, on_stop);
    std::signal(SIGHUP, on_reload);
    std::signal(SIGPIPE, SIG_IGN);
    std::string names;
    for (const Slot& s : models_.all()) names += (names.empty() ? "" : ", ") + s.name + " (" + s.task + ")";
    log_line("serving " + names + " on http://" + o_.host + ":" + std::to_string(port) + "/");
    std::thread watcher([&] {  // signals are flags; this thread acts on them
      while (!g_stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (g_reload) {
          g_reload = 0;
          models_.reload();
        }
      }
      log_line("stopping: no new connections; finishing the requests in flight");
      http.stop();
    });
    http.listen_after_bind();  // returns once stopped, after the workers finish (ThreadPool::shutdown joins them)
    g_stop = 1;
    watcher.join();
    queues_.clear();
    log_line("stopped");
    return 0;
  }

 private:
  static void answer_error(httplib::Response& res, int status, const std::string& reason) {
    res.status = status;
    res.set_content(json{{"error", reason}}.dump(), kJson);
  }
  static std::string endpoint_of(const std::string& path) {
    for (const char* e : {"/v1/predict", "/v1/generate", "/v1/explain", "/v1/models", "/healthz", "/metrics"})
      if (path == e) return e;
    return path == "/" ? "/" : "other";
  }
  // Compared in constant time: every byte is looked at whatever matches.
  bool authorized(const std::string& header) const {
    const std::string want = "Bearer " + token_;
    unsigned diff = unsigned(header.size() ^ want.size());
    for (std::size_t i = 0; i < want.size(); ++i) diff |= unsigned(i < header.size() ? header[i] ^ want[i] : want[i]);
    return diff == 0;
  }

  // A handler with the one error policy: HttpError -> its status, a library
  // error (bad input the library caught) -> 400, anything else -> 500; timed.
  httplib::Server::Handler handler(const std::string& endpoint,
                                   std::function<void(const httplib::Request&, httplib::Response&)> f) {
    return [this, endpoint, f](const httplib::Request& req, httplib::Response& res) {
      const auto t0 = Clock::now();
      try {
        f(req, res);
        if (res.status == -1) res.status = 200;
      } catch (const HttpError& e) {
        answer_error(res, e.status, e.reason);
        if (e.status == 503) res.set_header("Retry-After", "1");
      } catch (const recur::Error& e) {
        answer_error(res, 400, e.what());
      } catch (const std::exception& e) {
        answer_error(res, 500, std::string("internal error: ") + e.what());
      }
      metrics_.request(endpoint, res.status, std::chrono::duration<double>(Clock::now() - t0).count());
    };
  }

  Slot model_for(const json& body, const char* task) const {
    const Slot s = models_.get(text_field(body, "model", false));
    if (s.task != task)
      throw HttpError{400, "model '" + s.name + "' is a " + (s.task == "lm" ? std::string("language model") : "classifier") +
                               (s.task == "lm" ? "; use /v1/generate or /v1/explain" : "; use /v1/predict or /v1/explain")};
    return s;
  }

  void predict(const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req);
    const Slot s = model_for(body, "classify");
    if (!body.contains("texts")) throw HttpError{400, "missing field \"texts\" (a list of strings)"};
    if (!body["texts"].is_array()) throw HttpError{400, "\"texts\" must be a list of strings"};
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < body["texts"].size(); ++i) {
      const json& t = body["texts"][i];
      if (!t.is_string()) throw HttpError{400, "texts[" + std::to_string(i) + "] is not a string"};
      texts.push_back(t.get<std::string>());
      if (recur::find_invalid_utf8(texts.back()) != std::string::npos)
        throw HttpError{400, "texts[" + std::to_string(i) + "] is not valid UTF-8"};
    }
    const long top_k = integer_field(body, "top_k", 0, 1, 1 << 20);
    std::vector<recur::Prediction> preds;
    const auto q = queues_.find(s.name);
    if (q == queues_.end()) {
      preds = s.clf->predict(texts);
    } else if (!q->second->predict(texts, preds)) {
      throw HttpError{503, "too many requests waiting (--queue " + std::to_string(o_.queue) + "); retry shortly"};
    }
    json out = json::array();
    const auto& labels = s.clf->labels();
    for (const recur::Prediction& p : preds) {
      json j = json::parse(p.json(labels));  // the object `recur predict --format jsonl` prints
      if (top_k > 0) {
        json top = json::array();
        for (int c : p.top(int(top_k))) top.push_back({{"label", labels[std::size_t(c)]}, {"probability", p.probabilities[std::size_t(c)]}});
        j["top"] = std::move(top);
      }
      out.push_back(std::move(j));
    }
    res.set_content(json{{"model", s.name}, {"predictions", out}}.dump(), kJson);
  }

  void generate(const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req);
    const Slot s = model_for(body, "lm");
    const std::string prime = text_field(body, "prime", false);
    const long length = integer_field(body, "length", 200, 0, 100000);
    recur::SampleOptions o;
    o.temperature = number_field(body, "temperature", 1.0, 0, 100);
    o.top_k = int(integer_field(body, "top_k", 0, 0, 1 << 30));
    o.top_p = number_field(body, "top_p", 1.0, 1e-9, 1);
    const auto seed = std::uint32_t(integer_field(body, "seed", 1, 0, 4294967295L));
    const bool stream = body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();
    if (body.contains("stream") && !body["stream"].is_boolean()) throw HttpError{400, "\"stream\" must be true or false"};
    if (!stream) {
      const std::string text = s.lm->generate(prime, length, o, seed);
      res.set_content(json{{"model", s.name}, {"prime", prime}, {"text", text}}.dump(), kJson);
      return;
    }
    // Server-sent events, a piece each as it is sampled, then "done" with the whole text.
    struct Stream {
      std::shared_ptr<const recur::LanguageModel> lm;
      recur::LanguageModel::Generation g;
      long left;
      std::string text;
    };
    auto st = std::make_shared<Stream>(Stream{s.lm, s.lm->start(prime, o, seed), length, ""});
    res.set_chunked_content_provider("text/event-stream", [st](std::size_t, httplib::DataSink& sink) {
      for (int i = 0; i < 8 && st->left > 0; ++i, --st->left) {
        const std::string piece = st->g.next();
        st->text += piece;
        const std::string event = "data: " + json{{"piece", piece}}.dump() + "\n\n";
        if (!sink.write(event.data(), event.size())) return false;
      }
      if (st->left == 0) {
        const std::string event = "event: done\ndata: " + json{{"text", st->text}}.dump() + "\n\n";
        sink.write(event.data(), event.size());
        sink.done();
      }
      return true;
    });
    res.set_header("Cache-Control", "no-cache");
  }

  void explain(const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req);
    const Slot s = models_.get(text_field(body, "model", false));
    const std::string text = text_field(body, "text", true);
    const std::size_t limit = s.clf ? 2000 : 20000;  // a classifier reads every prefix and every leave-one-out
    if (text.size() > limit)
      throw HttpError{400, "\"text\" is longer than " + std::to_string(limit) + " bytes, the most /v1/explain reads for this model"};
    json out;
    out["model"] = s.name;
    out["task"] = s.task;
    if (s.clf) {
      const recur::ClassifierExplanation x = s.clf->explain(text);
      const auto& labels = s.clf->labels();
      out["tokens"] = x.tokens;
      out["known"] = x.known;
      out["label"] = labels[std::size_t(x.label)];
      out["probabilities"] = labels_json(labels, x.probabilities);
      out["units"] = x.states.unit_names;
      out["hidden"] = x.states.hidden;
      out["cell"] = recur::cell_name(s.clf->info().config.cell);
      json steps = json::array();
      for (std::size_t t = 0; t < x.tokens.size(); ++t)
        steps.push_back({{"token", x.tokens[t]},
                         {"probabilities", labels_json(labels, x.prefix_probabilities[t])},
                         {"importance", x.importance[t]},
                         {"units", states_json(x.states, t)}});
      out["steps"] = std::move(steps);
    } else {
      const recur::LmExplanation x = s.lm->explain(text, 5);
      out["tokens"] = x.tokens;
      out["known"] = x.known;
      out["units"] = x.states.unit_names;
      out["hidden"] = x.states.hidden;
      out["cell"] = recur::cell_name(s.lm->info().config.cell);
      json steps = json::array();
      for (std::size_t t = 0; t < x.tokens.size(); ++t) {
        json next = json::array();
        for (const auto& n : x.next[t]) next.push_back({{"symbol", n.symbol}, {"probability", n.probability}});
        steps.push_back({{"token", x.tokens[t]}, {"next", std::move(next)}, {"units", states_json(x.states, t)}});
      }
      out["steps"] = std::move(steps);
    }
    res.set_content(out.dump(), kJson);
  }

  ServeOptions o_;
  std::string token_;
  Registry models_;
  Metrics metrics_;
  std::map<std::string, std::unique_ptr<PredictQueue>> queues_;
};

}  // namespace

int serve(const ServeOptions& o) {
  Server server(o);
  return server.run();
}

}  // namespace recur_cli
