// recur serve over loopback: the API, dynamic batching that changes no answer,
// every refusal a client can cause, reloads, authentication, slow clients and
// a clean stop. Each test starts the real binary on a free port.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace {

using json = nlohmann::json;
const std::string kSrc = RECUR_SOURCE_DIR;
const std::string kBin = RECUR_BIN;

std::string tmp_path(const std::string& name) {
  return ::testing::TempDir() + "recur_serve_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Small models, trained once for the whole suite.
struct Models {
  std::string clf = tmp_path("clf.st"), clf2 = tmp_path("clf2.st"), lm = tmp_path("lm.st"), text = tmp_path("text.txt");
  Models() {
    const std::string train = kBin + " train --train " + kSrc + "/data/seed_train.tsv --tokenizer word --cell lstm " +
                              "--bidirectional --embed 8 --hidden 12 --bias-hh --init pytorch --optimizer adam --lr 0.01 " +
                              "--clip 0 --batch 4 --quiet";
    run(train + " --epochs 8 --save " + clf + " 2>&1");
    run(train + " --epochs 2 --seed 7 --save " + clf2 + " 2>&1");
    std::ofstream(text) << slurp(kSrc + "/docs/bptt.md");
    run(kBin + " train --task lm --text " + text + " --hidden 24 --layers 2 --steps 30 --batch 4 --seq-len 16 " +
        "--quiet --save " + lm + " 2>&1");
  }
};
const Models& models() {
  static const Models m;
  return m;
}

// A running `recur serve` on a free port; stopped (SIGTERM) when it goes.
class Server {
 public:
  explicit Server(const std::string& args) {
    int err[2];
    if (pipe(err) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(err[1], 2);
      close(err[0]);
      close(err[1]);
      const std::string cmd = "exec " + kBin + " serve --port 0 " + args;
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(err[1]);
    err_ = fdopen(err[0], "r");
    char line[4096];
    while (fgets(line, sizeof line, err_)) {  // "recur: serve: serving ... on http://127.0.0.1:PORT/"
      log_ += line;
      const char* at = std::strstr(line, "127.0.0.1:");
      if (at) {
        port_ = std::atoi(at + 10);
        break;
      }
    }
    if (!port_) throw std::runtime_error("the server did not start: " + log_);
    reader_ = std::thread([this] {  // keep its stderr drained, and kept
      char l[4096];
      while (fgets(l, sizeof l, err_)) {
        std::lock_guard<std::mutex> lock(mu_);
        log_ += l;
      }
    });
  }
  ~Server() {
    if (pid_ > 0) stop();
    if (reader_.joinable()) reader_.join();
    if (err_) fclose(err_);
  }
  int stop() {  // SIGTERM; the exit status
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void signal(int sig) const { kill(pid_, sig); }
  int port() const { return port_; }
  std::string log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  httplib::Client client(const std::string& token = "") const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20, 0);
    if (!token.empty()) c.set_bearer_token_auth(token.c_str());
    return c;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  FILE* err_ = nullptr;
  std::thread reader_;
  std::mutex mu_;
  std::string log_;
};

json post(httplib::Client& c, const std::string& path, const json& body, int want_status = 200) {
  auto r = c.Post(path.c_str(), body.dump(), "application/json");
  EXPECT_TRUE(r) << path;
  if (!r) return json();
  EXPECT_EQ(r->status, want_status) << path << " " << body.dump() << " -> " << r->body;
  return json::parse(r->body);
}

}  // namespace

TEST(Serve, ModelsHealthzMetricsAndThePage) {
  Server s("--model " + models().clf + " --model lm=" + models().lm);
  auto c = s.client();
  const json m = json::parse(c.Get("/v1/models")->body);
  ASSERT_EQ(m["models"].size(), 2u);
  EXPECT_EQ(m["models"][0]["task"], "classify");
  EXPECT_EQ(m["models"][0]["labels"], json({"neg", "pos"}));
  EXPECT_EQ(m["models"][0]["bidirectional"], true);
  EXPECT_EQ(m["models"][1]["name"], "lm");
  EXPECT_EQ(m["models"][1]["task"], "lm");
  EXPECT_EQ(c.Get("/healthz")->body, "{\"status\":\"ok\"}");
  auto page = c.Get("/");
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("h<sub>t</sub> = tanh(W<sub>xh</sub> x<sub>t</sub>"), std::string::npos);
  for (const char* outside : {"src=\"http", "href=\"http", "url(http", "@import", "fetch(\"http", "<link"})
    EXPECT_EQ(page->body.find(outside), std::string::npos) << outside;  // nothing fetched from outside
  post(c, "/v1/predict", {{"texts", {"i am good"}}});
  const std::string metrics = c.Get("/metrics")->body;
  EXPECT_NE(metrics.find("recur_requests_total{endpoint=\"/v1/predict\",status=\"200\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("recur_request_duration_seconds_bucket{endpoint=\"/v1/predict\",le=\"+Inf\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("recur_batch_texts_count 1"), std::string::npos);
  EXPECT_NE(metrics.find("recur_queue_depth 0"), std::string::npos);
}

TEST(Serve, PredictAnswersWhatRecurPredictPrints) {
  Server s("--model " + models().clf);
  auto c = s.client();
  const std::vector<std::string> texts = {"i am very happy", "this is not good at all", "", "unheard words entirely"};
  const json r = post(c, "/v1/predict", {{"texts", texts}, {"top_k", 2}});
  std::string args;
  for (const auto& t : texts) args += " '" + t + "'";
  std::istringstream cli(run(kBin + " predict --format jsonl --model " + models().clf + args + " 2>/dev/null"));
  std::string line;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(std::getline(cli, line));
    json want = json::parse(line);
    json got = r["predictions"][i];
    ASSERT_EQ(got["top"].size(), 2u);
    EXPECT_EQ(got["top"][0]["label"], got["label"]);
    got.erase("top");
    EXPECT_EQ(got.dump(), want.dump()) << texts[i];
  }
}

// Many clients at once: the server reads their texts in shared batches, and
// every one gets exactly the answer it gets alone.
TEST(Serve, DynamicBatchingChangesNoAnswer) {
  Server alone("--model " + models().clf + " --max-batch 1");
  Server batched("--model " + models().clf + " --max-batch 64 --max-wait-ms 30 --threads 24");
  std::vector<std::string> texts;
  const char* words[] = {"i", "am", "good", "bad", "not", "very", "happy", "sad", "this", "is", "right", "now"};
  for (int i = 0; i < 48; ++i) {
    std::string t;
    for (int k = 0; k <= i % 7; ++k) t += std::string(k ? " " : "") + words[(i * 5 + k * 3) % 12];
    texts.push_back(t);
  }
  std::vector<std::string> want(texts.size()), got(texts.size());
  {
    auto c = alone.client();
    for (std::size_t i = 0; i < texts.size(); ++i)
      want[i] = post(c, "/v1/predict", {{"texts", {texts[i]}}})["predictions"][0].dump();
  }
  std::vector<std::thread> clients;
  for (int k = 0; k < 24; ++k)
    clients.emplace_back([&, k] {
      auto c = batched.client();
      for (std::size_t i = std::size_t(k); i < texts.size(); i += 24)
        got[i] = post(c, "/v1/predict", {{"texts", {texts[i], texts[(i + 1) % texts.size()]}}})["predictions"][0].dump();
    });
  for (auto& t : clients) t.join();
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(got[i], want[i]) << texts[i];
  // And batches of more than one request did form.
  const std::string m = batched.client().Get("/metrics")->body;
  const auto count = [&](const std::string& key) {
    const std::size_t at = m.find(key);
    return at == std::string::npos ? -1L : std::atol(m.c_str() + at + key.size());
  };
  EXPECT_LT(count("recur_batch_texts_count "), 24L) << m;  // 24 requests of 2 texts in fewer batches
  EXPECT_LT(count("recur_batch_texts_bucket{le=\"2\"} "), count("recur_batch_texts_count ")) << m;
}

TEST(Serve, BadRequestsAreOneLineRefusals) {
  Server s("--model clf=" + models().clf + " --model lm=" + models().lm + " --max-body 4096");
  auto c = s.client();
  auto expect = [&](const std::string& path, const std::string& body, int status, const std::string& reason) {
    auto r = c.Post(path.c_str(), body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << body;
    const json j = json::parse(r->body);
    EXPECT_EQ(j["error"], reason) << body;
  };
  expect("/v1/predict", "{not json", 400, "the body is not valid JSON");
  expect("/v1/predict", "[1, 2]", 400, "the body must be a JSON object");
  expect("/v1/predict", "{}", 400, "missing field \"texts\" (a list of strings)");
  expect("/v1/predict", R"({"texts": "one string"})", 400, "\"texts\" must be a list of strings");
  expect("/v1/predict", R"({"texts": ["ok", 3]})", 400, "texts[1] is not a string");
  expect("/v1/predict", R"({"texts": ["ok"], "top_k": 0})", 400, "\"top_k\" must be in [1, 1048576]");
  expect("/v1/predict", R"({"texts": ["ok"], "model": "nope"})", 404, "no model named 'nope'");
  expect("/v1/predict", R"({"texts": ["ok"], "model": "lm"})", 400,
         "model 'lm' is a language model; use /v1/generate or /v1/explain");
  expect("/v1/generate", "{}", 400, "model 'clf' is a classifier; use /v1/predict or /v1/explain");
  expect("/v1/generate", R"({"model": "lm", "temperature": -1})", 400, "\"temperature\" must be in [0, 100]");
  expect("/v1/generate", R"({"model": "lm", "length": "long"})", 400, "\"length\" must be an integer");
  expect("/v1/explain", R"({"model": "lm"})", 400, "missing field \"text\"");
  expect("/v1/explain", "{\"text\": \"\xff\"}", 400, "the body is not valid JSON");
  expect("/v1/predict", "{\"texts\": [\"" + std::string(5000, 'a') + "\"]}", 413,
         "the body is larger than --max-body (4096 bytes)");
  auto r = c.Get("/v1/nothing");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(json::parse(r->body)["error"], "no such endpoint: GET /v1/nothing");
  // Still serving, after all of that.
  EXPECT_EQ(post(c, "/v1/predict", {{"texts", {"i am good"}}})["predictions"].size(), 1u);
}

TEST(Serve, AFullQueueAnswers503WithRetryAfter) {
  Server s("--model " + models().clf + " --queue 1 --max-batch 1000 --max-wait-ms 400 --threads 4");
  std::atomic<int> ok{0}, busy{0};
  std::string retry_after;
  std::vector<std::thread> clients;
  for (int k = 0; k < 3; ++k)
    clients.emplace_back([&] {
      auto c = s.client();
      auto r = c.Post("/v1/predict", json{{"texts", {"i am good"}}}.dump(), "application/json");
      if (r && r->status == 200) ++ok;
      if (r && r->status == 503) {
        ++busy;
        retry_after = r->get_header_value("Retry-After");
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(busy.load(), 1);
  EXPECT_EQ(retry_after, "1");
}

TEST(Serve, GenerateAndItsStreamAreRecurGenerate) {
  Server s("--model " + models().lm);
  auto c = s.client();
  const json r = post(c, "/v1/generate", {{"prime", "The "}, {"length", 120}, {"seed", 5}, {"temperature", 0.7}});
  const std::string cli = run(kBin + " generate --model " + models().lm + " --prime 'The ' --length 120 --seed 5 --temperature 0.7");
  EXPECT_EQ(r["prime"].get<std::string>() + r["text"].get<std::string>() + "\n", cli);
  // Streamed: the same text, piece by piece, then "done".
  std::string body;
  auto st = c.Post("/v1/generate", json{{"prime", "The "}, {"length", 120}, {"seed", 5}, {"temperature", 0.7}, {"stream", true}}.dump(),
                   "application/json");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->get_header_value("Content-Type"), "text/event-stream");
  std::string pieces, done;
  std::istringstream events(st->body);
  std::string line;
  while (std::getline(events, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    const json j = json::parse(line.substr(6));
    if (j.contains("piece")) pieces += j["piece"].get<std::string>();
    if (j.contains("text")) done = j["text"];
  }
  EXPECT_EQ(pieces, r["text"]);
  EXPECT_EQ(done, r["text"]);
}

TEST(Serve, ExplainShowsEveryStepLayerAndGate) {
  Server s("--model " + models().clf + " --model lm=" + models().lm);
  auto c = s.client();
  const json x = post(c, "/v1/explain", {{"text", "i am not happy"}});
  EXPECT_EQ(x["tokens"], json({"i", "am", "not", "happy"}));
  ASSERT_EQ(x["steps"].size(), 4u);
  EXPECT_EQ(x["units"], json({"layer 0 forward", "layer 0 reverse"}));
  for (const json& step : x["steps"]) {
    ASSERT_EQ(step["units"].size(), 2u);
    EXPECT_EQ(step["units"][0]["h"].size(), 12u);
    EXPECT_EQ(step["units"][0]["c"].size(), 12u);      // LSTM: cell states
    EXPECT_EQ(step["units"][0]["gates"].size(), 48u);  // and its four gates
    EXPECT_TRUE(step["importance"].is_number());
  }
  // After the last word the prediction is the whole text's.
  const json whole = post(c, "/v1/predict", {{"texts", {"i am not happy"}}})["predictions"][0];
  EXPECT_EQ(x["label"], whole["label"]);
  EXPECT_EQ(x["probabilities"].dump(), whole["probabilities"].dump());
  EXPECT_EQ(x["steps"][3]["probabilities"].dump(), whole["probabilities"].dump());
  const json l = post(c, "/v1/explain", {{"model", "lm"}, {"text", "The model"}});
  ASSERT_EQ(l["steps"].size(), 9u);
  for (const json& step : l["steps"]) {
    ASSERT_EQ(step["next"].size(), 5u);
    EXPECT_GE(step["next"][0]["probability"].get<double>(), step["next"][4]["probability"].get<double>());
    EXPECT_EQ(step["units"].size(), 2u);  // two layers
  }
}

TEST(Serve, TokenIsRequiredAndCheckedForEveryApiRequest) {
  const std::string token_file = tmp_path("token");
  std::ofstream(token_file) << "s3cret-token\n";
  Server s("--model " + models().clf + " --token-file " + token_file);
  auto none = s.client(), wrong = s.client("s3cret-tokem"), right = s.client("s3cret-token");
  for (auto* c : {&none, &wrong}) {
    auto r = c->Post("/v1/predict", json{{"texts", {"i am good"}}}.dump(), "application/json");
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
    EXPECT_EQ(c->Get("/v1/models")->status, 401);
    EXPECT_EQ(c->Get("/metrics")->status, 401);
  }
  EXPECT_EQ(none.Get("/")->status, 200);  // the page itself holds nothing; it asks for the token
  post(right, "/v1/predict", {{"texts", {"i am good"}}});
  EXPECT_EQ(right.Get("/metrics")->status, 200);
}

TEST(Serve, SighupReloadsAndABrokenFileKeepsTheOldModel) {
  const std::string path = tmp_path("reload.st");
  run("cp " + models().clf + " " + path);
  Server s("--model m=" + path);
  auto c = s.client();
  const std::string first = post(c, "/v1/predict", {{"texts", {"i am good"}}})["predictions"][0].dump();
  run("cp " + models().clf2 + " " + path);
  s.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const std::string second = post(c, "/v1/predict", {{"texts", {"i am good"}}})["predictions"][0].dump();
  EXPECT_NE(second, first);
  std::ofstream(path) << "not a model";
  s.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(post(c, "/v1/predict", {{"texts", {"i am good"}}})["predictions"][0].dump(), second);
  EXPECT_NE(s.log().find("reload of m failed, still serving the model loaded before"), std::string::npos) << s.log();
}

TEST(Serve, SigtermFinishesWhatIsInFlightAndExitsZero) {
  Server s("--model " + models().lm);
  json answer;
  std::thread slow([&] {
    auto c = s.client();
    answer = post(c, "/v1/generate", {{"length", 20000}, {"seed", 2}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the request is in flight
  EXPECT_EQ(s.stop(), 0);
  slow.join();
  EXPECT_EQ(answer["text"].get<std::string>().size() > 0, true);
  EXPECT_NE(s.log().find("stopped"), std::string::npos);
}

// A client that connects and goes silent is dropped after --timeout, and the
// other workers keep answering meanwhile.
TEST(Serve, AStalledClientIsTimedOut) {
  Server s("--model " + models().clf + " --timeout 1 --threads 2");
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(std::uint16_t(s.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string partial = "POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"te";
  ASSERT_GT(write(fd, partial.data(), partial.size()), 0);
  auto c = s.client();
  EXPECT_EQ(post(c, "/v1/predict", {{"texts", {"i am good"}}})["predictions"].size(), 1u);
  const auto t0 = std::chrono::steady_clock::now();
  char buf[512];
  while (read(fd, buf, sizeof buf) > 0) {
  }  // until the server closes it
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(waited, 4.0);
  close(fd);
}

TEST(Serve, BadFlagsAndFilesAreOneLine) {
  const std::string out = run(kBin + " serve --port 0 --model /nonexistent.st 2>&1; echo rc=$?");
  EXPECT_NE(out.find("recur: error: /nonexistent.st: cannot open: No such file or directory\nrc=1"), std::string::npos)
      << out;
  const std::string bad = tmp_path("bad.st");
  std::ofstream(bad) << "garbage";
  const std::string out2 = run(kBin + " serve --port 0 --model " + bad + " 2>&1; echo rc=$?");
  EXPECT_NE(out2.find("recur: error: " + bad + ": not a valid safetensors file"), std::string::npos) << out2;
  EXPECT_NE(out2.find("rc=1"), std::string::npos);
  const std::string out3 = run(kBin + " serve --port 0 --max-batch 0 --model " + models().clf + " 2>&1; echo rc=$?");
  EXPECT_NE(out3.find("recur: error: --max-batch must be at least 1 (1: no batching)"), std::string::npos) << out3;
}
