// recur predict — label texts with a trained classifier.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.hpp"

namespace recur_cli {
namespace {

struct PredictArgs {
  std::string model, format = "text";
  int top_k = 1;
  std::vector<std::string> texts;
};

void predict_command(const PredictArgs& a) {
  if (a.top_k < 1) throw recur::Error("--top-k must be at least 1");
  recur::LoadedModel m = recur::load_model(a.model);
  if (m.info.config.task != recur::Task::classify)
    throw recur::Error(a.model + ": a language model, not a classifier (use recur generate or recur eval --text)");
  const auto& info = m.info;
  recur::Model<float>::Workspace ws;
  recur::SerialBlas serial;  // one line at a time
  long n_unknown = 0, n_lines = 0;

  auto one = [&](const std::string& text, const std::string& where) {
    const std::size_t bad = recur::find_invalid_utf8(text);
    if (bad != std::string::npos)
      throw recur::Error(where + ": invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the line");
    const recur::Encoded e = recur::encode(info.vocab, info.tokenizer, normalize(text, info));
    n_unknown += e.n_unknown;
    ++n_lines;
    const recur::Batch b = recur::make_batch({e.ids}, {}, {0});
    m.model.forward(b, ws);
    Eigen::Index best;
    ws.probs.row(0).maxCoeff(&best);
    if (a.format == "jsonl") {
      nlohmann::ordered_json j;
      j["label"] = info.labels[std::size_t(best)];
      nlohmann::ordered_json p = nlohmann::ordered_json::object();
      for (std::size_t c = 0; c < info.labels.size(); ++c) p[info.labels[c]] = double(ws.probs(0, Eigen::Index(c)));
      j["probabilities"] = p;
      std::cout << j.dump() << '\n';
    } else {  // the top K labels, most probable first: label<TAB>p[<TAB>label<TAB>p...]
      std::vector<int> order(info.labels.size());
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return ws.probs(0, x) > ws.probs(0, y); });
      const std::size_t k = std::min<std::size_t>(std::size_t(a.top_k), order.size());
      for (std::size_t i = 0; i < k; ++i)
        std::cout << (i ? "\t" : "") << info.labels[std::size_t(order[i])] << '\t' << ws.probs(0, order[i]);
      std::cout << '\n';
    }
  };

  if (!a.texts.empty()) {
    for (std::size_t i = 0; i < a.texts.size(); ++i) one(a.texts[i], "argument " + std::to_string(i + 1));
  } else {
    std::string line;
    long line_no = 0;
    while (std::getline(std::cin, line)) {
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      one(line, "<stdin>:" + std::to_string(line_no));
    }
  }
  std::cout.flush();
  if (n_unknown)
    std::fprintf(stderr, "recur: %ld words in %ld texts were not in the model's vocabulary (%s)\n",
                 n_unknown, n_lines, unknown_words_policy(info.vocab).c_str());
}

}  // namespace

void setup_predict(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Label texts with a trained classifier: the TEXT arguments, or else every line of\n"
      "standard input. Output per text: `label<TAB>probability`, or with --format jsonl\n"
      "{\"label\": ..., \"probabilities\": {label: p, ...}}.\n"
      "A word the model never saw is mapped to <unk> when the model has it (trained with\n"
      "--min-count or --max-vocab), else given a zero input vector; either way it is\n"
      "counted on stderr.");
  cmd->add_option("--model", a->model, "Model file written by recur train --save")->required()->check(CLI::ExistingFile);
  cmd->add_option("--format", a->format, "Output format: text (= tsv: label<TAB>probability) or jsonl")
      ->check(CLI::IsMember({"text", "tsv", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--top-k", a->top_k, "text/tsv: the K most probable labels, each with its probability")
      ->capture_default_str();
  cmd->add_option("TEXT", a->texts, "Texts to label (default: lines of stdin)");
  cmd->callback([a] { predict_command(*a); });
}

}  // namespace recur_cli
