// recur translate — outputs of a sequence-to-sequence model (recur train --task
// seq2seq) for the lines of stdin or the arguments: greedy or beam search.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.hpp"
#include "recur/language_model.hpp"
#include "recur/translator.hpp"

namespace recur_cli {
namespace {

struct TranslateArgs {
  std::vector<std::string> models;
  std::string format = "text", attention_out;
  recur::DecodeOptions decode;
  int batch = 256;
  std::size_t max_line_bytes = std::size_t(1) << 20;
  std::vector<std::string> texts;
};

void translate_command(TranslateArgs a) {
  recur::check(a.decode);
  if (a.batch < 1) throw recur::Error("--batch must be at least 1");
  const std::vector<recur::Translator> models = load_translators(a.models);
  std::vector<const recur::Translator*> ensemble;
  for (const auto& m : models) ensemble.push_back(&m);
  a.decode.attention = !a.attention_out.empty();
  nlohmann::ordered_json alignments = nlohmann::ordered_json::array();
  long unknown = 0, lines = 0;

  auto run = [&](const std::vector<std::string>& sources, const std::vector<std::string>& where) {
    for (std::size_t i = 0; i < sources.size(); ++i) {
      const std::size_t bad = recur::find_invalid_utf8(sources[i]);
      if (bad != std::string::npos)
        throw recur::Error(where[i] + ": invalid UTF-8 at byte " + std::to_string(bad + 1) + " of the line");
    }
    const std::vector<recur::Translation> out = recur::translate(ensemble, sources, a.decode);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const recur::Translation& t = out[i];
      unknown += t.unknown, ++lines;
      if (a.format == "jsonl") {
        nlohmann::ordered_json j;
        j["output"] = t.nbest[0].text;
        j["score"] = t.nbest[0].score;
        if (a.decode.nbest > 1) {
          j["nbest"] = nlohmann::ordered_json::array();
          for (const auto& h : t.nbest) j["nbest"].push_back({{"output", h.text}, {"score", h.score}});
        }
        std::cout << j.dump() << '\n';
      } else if (a.decode.nbest > 1) {  // output<TAB>score, one hypothesis a line, then an empty line
        for (const auto& h : t.nbest) std::cout << h.text << '\t' << float(h.score) << '\n';
        std::cout << '\n';
      } else {
        std::cout << t.nbest[0].text << '\n';
      }
      if (a.decode.attention)
        alignments.push_back({{"source", t.source_tokens},
                              {"output", t.nbest[0].tokens},
                              {"attention", t.nbest[0].attention}});
    }
    std::cout.flush();
  };

  if (!a.texts.empty()) {
    std::vector<std::string> where;
    for (std::size_t i = 0; i < a.texts.size(); ++i) where.push_back("argument " + std::to_string(i + 1));
    run(a.texts, where);
  } else {
    // Lines are decoded in batches of --batch; typed at a terminal, one at a time.
    const std::size_t batch = isatty(STDIN_FILENO) ? 1 : std::size_t(a.batch);
    std::vector<std::string> lines_in, where;
    std::string line;
    long line_no = 0;
    while (read_stdin_line(line, ++line_no, a.max_line_bytes)) {
      lines_in.push_back(line);
      where.push_back("<stdin>:" + std::to_string(line_no));
      if (lines_in.size() == batch) run(lines_in, where), lines_in.clear(), where.clear();
    }
    if (!lines_in.empty()) run(lines_in, where);
  }
  if (!a.attention_out.empty()) recur::write_file_atomic(a.attention_out, alignments.dump() + "\n");
  if (unknown)
    note(std::to_string(unknown) + " source symbols in " + std::to_string(lines) +
         " lines were not in the model's vocabulary (read as " + recur::kUnknownToken + ")");
}

}  // namespace

void setup_translate(CLI::App& app) {
  auto a = std::make_shared<TranslateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "translate",
      "Outputs of a sequence-to-sequence model (recur train --task seq2seq) for the TEXT\n"
      "arguments, or else every line of standard input: one output line per input line\n"
      "(symbols and words joined by a space, characters not at all). --format jsonl gives\n"
      "{\"output\": ..., \"score\": ...} (score: log-probability / (length+1)^penalty) and, with\n"
      "--nbest N, \"nbest\": [{\"output\", \"score\"}, ...]. In text format --nbest N prints N lines\n"
      "`output<TAB>score` per input and an empty line after them.");
  add_model_files(cmd, a->models,
                  "Model file written by recur train --task seq2seq --save; given more than once, the\n"
                  "models decode as one (an ensemble: each symbol's log-probability is their mean)");
  cmd->add_option("--beam", a->decode.beam, "Beam width (1: greedy decoding)")->capture_default_str();
  cmd->add_option("--nbest", a->decode.nbest, "Outputs per input, best first (at most --beam)")->capture_default_str();
  cmd->add_option("--length-penalty", a->decode.length_penalty,
                  "Rank outputs by log p / (length+1)^A: 0 favours short outputs, 1 is per symbol")
      ->capture_default_str();
  cmd->add_option("--max-len", a->decode.max_length, "Output symbols at most (0: 3 x the source's length + 10)")
      ->capture_default_str();
  cmd->add_option("--format", a->format, "Output format: text or jsonl")
      ->check(CLI::IsMember({"text", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--attention-out", a->attention_out,
                  "Write the best output's attention weights to FILE as JSON: per input, its source and\n"
                  "output symbols and a matrix (one row per output symbol and the <eos>, one column per\n"
                  "source symbol)");
  cmd->add_option("--batch", a->batch, "Inputs decoded together (a terminal's lines: one at a time)")
      ->capture_default_str();
  add_threads_flag(cmd, a->decode.threads, "chunks of 32 inputs");
  cmd->add_option("--max-line-bytes", a->max_line_bytes, "A line of stdin longer than this is an error (0 = no limit)")
      ->capture_default_str();
  cmd->add_option("TEXT", a->texts, "Texts to translate (default: lines of stdin)");
  cmd->callback([a] { translate_command(*a); });
}

}  // namespace recur_cli
