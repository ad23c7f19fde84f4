// recur predict — label texts with a trained classifier.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "recur/classifier.hpp"
#include "recur/language_model.hpp"

namespace recur_cli {
namespace {

struct PredictArgs {
  std::string model, format = "text";
  int top_k = 1;
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
  long n_unknown = 0, n_lines = 0;

  auto one = [&](const std::string& text, const std::string& where) {
    const std::size_t bad = recur::find_invalid_utf8(text);
    if (bad != std::string::npos)
      throw recur::Error(where + ": invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the line");
    recur::Prediction p;
    try {
      p = clf.predict(text);
    } catch (const recur::Error& e) {
      throw recur::Error(where + ": " + e.what());
    }
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

  if (!a.texts.empty()) {
    for (std::size_t i = 0; i < a.texts.size(); ++i) one(a.texts[i], "argument " + std::to_string(i + 1));
  } else {
    std::string line;
    long line_no = 0;
    while (read_stdin_line(line, ++line_no, a.max_line_bytes)) {
      one(line, "<stdin>:" + std::to_string(line_no));
    }
  }
  std::cout.flush();
  if (n_unknown)
    note(std::to_string(n_unknown) + " words in " + std::to_string(n_lines) +
         " texts were not in the model's vocabulary (" + recur::unknown_words_policy(clf.info().vocab) + ")");
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
  cmd->add_option("TEXT", a->texts, "Texts to label (default: lines of stdin)");
  cmd->callback([a] { predict_command(*a); });
}

}  // namespace recur_cli
