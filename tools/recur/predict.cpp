// recur predict — label texts with a trained classifier.
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "recur/classifier.hpp"
#include "recur/language_model.hpp"
#include "recur/tensor.hpp"

namespace recur_cli {
namespace {

struct PredictArgs {
  std::string model, format = "text";
  int top_k = 1, threads = 1;
  std::size_t max_line_bytes = std::size_t(1) << 20;
  std::vector<std::string> texts;
};

void predict_command(const PredictArgs& a) {
  if (a.top_k < 1) throw recur::Error("--top-k must be at least 1");
  const std::string task = recur::model_task(a.model);
  if (task == "seq2seq")
    throw recur::Error(a.model + ": a sequence-to-sequence model, not a classifier (use recur translate)");
  if (task != "classify")
    throw recur::Error(a.model + ": a language model, not a classifier (use recur generate or recur eval --text)");
  const recur::Classifier clf = recur::Classifier::load(a.model);
  const auto& labels = clf.labels();
  // Parallel over texts (--threads), each batch's products on its own thread:
  // too small to share; and BLAS's own workers, idle, would spin on the cores.
  const recur::SerialBlas serial;
  recur::stop_idle_blas_threads();
  long n_unknown = 0, n_lines = 0;

  auto print = [&](const recur::Prediction& p) {
    n_unknown += p.unknown;
    ++n_lines;
    if (a.format == "jsonl") {
      std::cout << p.json(labels) << '\n';
    } else {  // the top K labels, most probable first: label<TAB>p[<TAB>label<TAB>p...]
      const std::vector<int> top = p.top(a.top_k);
      for (std::size_t i = 0; i < top.size(); ++i)
        std::cout << (i ? "\t" : "") << labels[std::size_t(top[i])] << '\t'
                  << float(p.probabilities[std::size_t(top[i])]);
      std::cout << '\n';
    }
  };
  // Texts are labelled a chunk at a time: Classifier::predict reads a chunk in
  // length-bucketed batches and gives every text the answer it gets alone.
  // `where(i)` names text i of the chunk for an error.
  std::vector<std::string> chunk;
  auto label_chunk = [&](const std::function<std::string(std::size_t)>& where) {
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      const std::size_t bad = recur::find_invalid_utf8(chunk[i]);
      if (bad != std::string::npos)
        throw recur::Error(where(i) + ": invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the line");
    }
    std::vector<recur::Prediction> preds;
    try {
      preds = clf.predict(chunk, a.threads);
    } catch (const recur::Error&) {  // which text: each alone, in order
      for (std::size_t i = 0; i < chunk.size(); ++i) try {
          clf.predict(chunk[i]);
        } catch (const recur::Error& e) {
          throw recur::Error(where(i) + ": " + e.what());
        }
      throw;
    }
    for (const recur::Prediction& p : preds) print(p);
    chunk.clear();
  };

  if (!a.texts.empty()) {
    chunk = a.texts;
    label_chunk([](std::size_t i) { return "argument " + std::to_string(i + 1); });
  } else {
    // A chunk ends at kChunk lines or when no more input is waiting, so a
    // program that writes a line and waits for its label gets it at once.
    constexpr std::size_t kChunk = 4096;
    std::ios::sync_with_stdio(false);  // (buffered: in_avail() sees what is read ahead)
    auto input_waiting = [] {
      if (std::cin.rdbuf()->in_avail() > 0) return true;
      pollfd p{0, POLLIN, 0};
      return ::poll(&p, 1, 0) > 0;
    };
    std::string line;
    long line_no = 0, first = 1;
    for (;;) {
      const bool got = read_stdin_line(line, ++line_no, a.max_line_bytes);
      if (got) chunk.push_back(line);
      if (!chunk.empty() && (!got || chunk.size() == kChunk || !input_waiting())) {
        label_chunk([&](std::size_t i) { return "<stdin>:" + std::to_string(first + long(i)); });
        std::cout.flush();
        first = line_no + 1;
      }
      if (!got) break;
    }
  }
  std::cout.flush();
  if (n_unknown)
    note(std::to_string(n_unknown) + " words in " + std::to_string(n_lines) +
         " texts were not in the model's vocabulary (" + clf.info().unknown_words_policy() + ")");
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
  cmd->add_option("--max-line-bytes", a->max_line_bytes, "A line of stdin longer than this is an error (0 = no limit)")
      ->capture_default_str();
  add_threads_flag(cmd, a->threads, "batches of texts");
  cmd->add_option("TEXT", a->texts, "Texts to label (default: lines of stdin)");
  cmd->callback([a] { predict_command(*a); });
}

}  // namespace recur_cli
