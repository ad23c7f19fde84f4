#include "recur/model.hpp"

#include <algorithm>

namespace recur {

std::string cell_name(CellKind k) {
  switch (k) {
    case CellKind::rnn_tanh: return "rnn_tanh";
    case CellKind::rnn_relu: return "rnn_relu";
    case CellKind::lstm: return "lstm";
    case CellKind::gru: return "gru";
  }
  return "?";
}

CellKind cell_from_name(const std::string& s) {
  if (s == "rnn_tanh" || s == "rnn") return CellKind::rnn_tanh;
  if (s == "rnn_relu") return CellKind::rnn_relu;
  if (s == "lstm") return CellKind::lstm;
  if (s == "gru") return CellKind::gru;
  throw Error("unknown cell '" + s + "' (known: rnn, rnn_tanh, rnn_relu, lstm, gru)");
}

std::string to_string(Task t) { return t == Task::lm ? "lm" : "classify"; }

std::string to_string(InitKind k) {
  switch (k) {
    case InitKind::seed: return "seed";
    case InitKind::pytorch: return "pytorch";
    case InitKind::xavier: return "xavier";
    case InitKind::orthogonal: return "orthogonal";
  }
  return "?";
}

InitKind init_from_string(const std::string& s) {
  for (InitKind k : {InitKind::seed, InitKind::pytorch, InitKind::xavier, InitKind::orthogonal})
    if (to_string(k) == s) return k;
  throw Error("unknown init '" + s + "' (known: seed, pytorch, xavier, orthogonal)");
}

Batch make_batch(const std::vector<std::vector<int>>& seqs, const std::vector<int>& targets,
                 const std::vector<int>& which) {
  Batch b;
  b.B = int(which.size());
  for (int i : which) b.T = std::max(b.T, int(seqs[std::size_t(i)].size()));
  b.ids.assign(std::size_t(b.T) * b.B, -1);
  for (int j = 0; j < b.B; ++j) {
    const auto& s = seqs[std::size_t(which[std::size_t(j)])];
    if (s.empty()) throw Error("empty sequence in a batch");
    for (std::size_t t = 0; t < s.size(); ++t) b.ids[t * b.B + std::size_t(j)] = s[t];
    b.lengths.push_back(int(s.size()));
    if (!targets.empty()) b.targets.push_back(targets[std::size_t(which[std::size_t(j)])]);
  }
  return b;
}

}  // namespace recur
