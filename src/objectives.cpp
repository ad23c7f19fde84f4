// What is learned from a batch (ManyToOne, ManyToMany), how data becomes
// batches (BucketBatcher, StreamBatcher), and evaluation on held-out data.
// The loop that drives them is src/trainer.cpp.
#include <algorithm>
#include <numeric>

#include "recur/layers.hpp"
#include "recur/trainer.hpp"

namespace recur {

namespace {

// The index of each row's largest probability equals its target: the count.
template <class T>
double correct_predictions(const Matrix<T>& probs, const std::vector<int>& targets) {
  double correct = 0;
  for (Eigen::Index r = 0; r < probs.rows(); ++r) {
    Eigen::Index arg;
    probs.row(r).maxCoeff(&arg);
    correct += (arg == targets[std::size_t(r)]);
  }
  return correct;
}

}  // namespace

// ---- objectives ----------------------------------------------------------------

template <class T>
StepLoss ManyToOne<T>::forward_backward(const Batch& b, Rng& rng) {
  typename Model<T>::Workspace* ws = &ws_;
  if (b.B == 1) {
    if (by_length_.size() <= std::size_t(b.T)) by_length_.resize(std::size_t(b.T) + 1);
    ws = &by_length_[std::size_t(b.T)];
  }
  model_.forward(b, *ws, &rng);
  StepLoss s;
  s.value = cross_entropy_sum<T>(ws->logits, b.targets, smoothing_);  // the sum over the batch; the mean is over examples
  s.weight = b.B;
  s.n = b.B;
  s.correct = correct_predictions(ws->probs, b.targets);
  // The mean over the step's sequences: this batch's, or when it is one part of
  // a step (accumulation, data parallelism) the whole step's, so that the
  // parts' gradients add up to the gradient of the step's mean loss.
  const int step_B = b.global_B > 0 ? b.global_B : b.B;
  cross_entropy_grad<T>(ws->probs, b.targets, T(1) / T(step_B), ws->dlogits, smoothing_);
  model_.backward(b, *ws);
  return s;
}

template <class T>
StepLoss ManyToMany<T>::forward_backward(const Batch& b, Rng& rng) {
  Carried& g = carried_.at(std::size_t(b.group));
  if (!b.continues) {  // a new pass over the text: the streams start from zero state
    g.h.clear();
    g.c.clear();
  }
  // The group's state in (the workspace's previous buffers parked in g meanwhile).
  std::swap(ws_.h0, g.h);
  std::swap(ws_.c0, g.c);
  model_.forward(b, ws_, &rng);
  // The step's mean over its T*B_step predictions (B_step: this batch's
  // streams, or the whole step's when the batch is one part of it).
  const int TB = b.T * b.B;
  const int TB_step = b.global_B > 0 ? b.T * b.global_B : TB;
  StepLoss s;
  s.value = cross_entropy_sum<T>(ws_.logits, b.targets, smoothing_) / double(TB_step);  // averaged over steps
  s.weight = double(TB) / double(TB_step);  // 1 for a whole step; the parts' add up to 1
  s.n = TB;
  cross_entropy_grad<T>(ws_.probs, b.targets, T(1) / T(TB_step), ws_.dlogits, smoothing_);
  model_.backward(b, ws_);
  // Carry the state to the group's next chunk; no gradient flows back across it.
  std::swap(g.h, ws_.final_h);
  std::swap(g.c, ws_.final_c);
  return s;
}

template <class T>
void ManyToMany<T>::carried_state(std::vector<Matrix<T>>& h, std::vector<Matrix<T>>& c) const {
  if (carried_.size() == 1) {
    h = carried_[0].h;
    c = carried_[0].c;
    return;
  }
  // The groups one under the other: per layer (groups*B, H).
  auto stack = [&](std::vector<Matrix<T>> Carried::*which, std::vector<Matrix<T>>& out) {
    out.clear();
    const std::vector<Matrix<T>>& first = carried_[0].*which;
    for (std::size_t l = 0; l < first.size(); ++l) {
      Matrix<T> m(first[l].rows() * Eigen::Index(carried_.size()), first[l].cols());
      for (std::size_t k = 0; k < carried_.size(); ++k) {
        const std::vector<Matrix<T>>& g = carried_[k].*which;
        if (g.size() != first.size()) throw Error("the groups of streams carry states of different depths");
        m.middleRows(Eigen::Index(k) * first[l].rows(), first[l].rows()) = g[l];
      }
      out.push_back(std::move(m));
    }
  };
  stack(&Carried::h, h);
  stack(&Carried::c, c);
}

template <class T>
void ManyToMany<T>::set_carried_state(const std::vector<Matrix<T>>& h, const std::vector<Matrix<T>>& c) {
  if (carried_.size() == 1) {
    carried_[0].h = h;
    carried_[0].c = c;
    return;
  }
  const Eigen::Index groups = Eigen::Index(carried_.size());
  auto split = [&](const std::vector<Matrix<T>>& in, std::vector<Matrix<T>> Carried::*which) {
    for (std::size_t k = 0; k < carried_.size(); ++k) (carried_[k].*which).clear();
    for (const Matrix<T>& m : in) {
      if (m.rows() % groups != 0)
        throw Error("a carried state of " + std::to_string(m.rows()) + " streams cannot be cut into " +
                    std::to_string(groups) + " groups");
      const Eigen::Index rows = m.rows() / groups;
      for (Eigen::Index k = 0; k < groups; ++k) (carried_[std::size_t(k)].*which).push_back(m.middleRows(k * rows, rows));
    }
  };
  split(h, &Carried::h);
  split(c, &Carried::c);
}

// ---- evaluation ----------------------------------------------------------------

template <class T>
Metrics evaluate_many_to_one(const Model<T>& model, const EncodedSet& data, std::vector<std::vector<double>>* probs) {
  SerialBlas serial;  // one sequence at a time
  typename Model<T>::Workspace ws;
  Metrics m;
  m.has_accuracy = true;
  for (std::size_t i = 0; i < data.ids.size(); ++i) {
    Batch b = make_batch(data.ids, data.targets, {int(i)});
    b.bags = data.bags;
    model.forward(b, ws);
    m.loss += cross_entropy_sum<T>(ws.logits, b.targets);
    m.accuracy += correct_predictions(ws.probs, b.targets);
    if (probs) {
      probs->emplace_back(ws.probs.cols());
      for (Eigen::Index c = 0; c < ws.probs.cols(); ++c) probs->back()[std::size_t(c)] = double(ws.probs(0, c));
    }
  }
  m.n = long(data.ids.size());
  if (m.n) m.loss /= double(m.n), m.accuracy /= double(m.n);
  return m;
}

template <class T>
Metrics evaluate_many_to_many(const Model<T>& model, const TokenStream& ids, int chunk) {
  if (chunk < 1) throw Error("evaluation chunk must be at least 1");
  SerialBlas serial;  // one stream: products too small to share between threads
  typename Model<T>::Workspace ws;
  Metrics m;
  Batch b;
  b.B = 1;
  std::vector<int> window;  // the chunk's inputs and, one on, its targets
  for (std::size_t start = 0; start + 1 < ids.size(); start += std::size_t(chunk)) {
    const int len = int(std::min<std::size_t>(std::size_t(chunk), ids.size() - 1 - start));
    b.T = len;
    window.resize(std::size_t(len) + 1);
    ids.read(start, window.size(), window.data());
    b.ids.assign(window.begin(), window.end() - 1);
    b.targets.assign(window.begin() + 1, window.end());
    b.lengths = {len};
    model.forward(b, ws);
    m.loss += cross_entropy_sum<T>(ws.logits, b.targets);
    m.n += len;
    std::swap(ws.h0, ws.final_h);  // the final state becomes the next initial state
    std::swap(ws.c0, ws.final_c);
  }
  if (m.n) m.loss /= double(m.n);
  return m;
}

// ---- batchers ------------------------------------------------------------------

namespace {

// Groups a shuffled order into batches of similar lengths: windows of 50
// batches are sorted by length and cut, and the batches then shuffled. With
// `ties` (pairs: the targets), sequences of one length are sorted by the
// length of their tie: the decoder's steps then also end together.
std::vector<std::vector<int>> bucket_batches(const std::vector<std::vector<int>>& seqs,
                                             const std::vector<std::vector<int>>* ties, std::vector<int> order,
                                             int batch, Rng& rng) {
  const std::size_t window = std::size_t(batch) * 50;
  const auto key = [&](int x) {
    const std::size_t i = std::size_t(x);
    return std::make_pair(seqs[i].size(), ties ? (*ties)[i].size() : 0);
  };
  for (std::size_t a = 0; a < order.size(); a += window) {
    const auto first = order.begin() + std::ptrdiff_t(a);
    const auto last = order.begin() + std::ptrdiff_t(std::min(order.size(), a + window));
    std::stable_sort(first, last, [&](int x, int y) { return key(x) < key(y); });
  }
  std::vector<std::vector<int>> out;
  for (std::size_t a = 0; a < order.size(); a += std::size_t(batch))
    out.emplace_back(order.begin() + std::ptrdiff_t(a),
                     order.begin() + std::ptrdiff_t(std::min(order.size(), a + std::size_t(batch))));
  rng.shuffle(out);
  return out;
}

}  // namespace

namespace {

void check_split(const BatchSplit& s) {
  if (s.ranks < 1 || s.rank < 0 || s.rank >= s.ranks) throw Error("rank " + std::to_string(s.rank) + " of " + std::to_string(s.ranks) + " processes");
  if (s.accumulate < 1) throw Error("--accumulate must be at least 1");
}

}  // namespace

BucketBatcher::BucketBatcher(const EncodedSet& data, int batch, BatchSplit split)
    : BucketBatcher(data.ids, batch, split, [&data](const std::vector<int>& which, const std::vector<int>&) {
        Batch b = make_batch(data.ids, data.targets, which);
        b.bags = data.bags;
        return b;
      }) {}

BucketBatcher::BucketBatcher(const std::vector<std::vector<int>>& seqs, int batch, BatchSplit split, Packer pack,
                             const std::vector<std::vector<int>>* ties)
    : seqs_(seqs), ties_(ties), pack_(std::move(pack)), batch_(batch), split_(split) {
  if (batch < 1) throw Error("batch size must be at least 1");
  check_split(split);
  step_ = batch * split.ranks * split.accumulate;
  order_.resize(seqs.size());
  if (step_ == 1)
    for (std::size_t i = 0; i < seqs.size(); ++i) singles_.push_back(pack_({int(i)}, {int(i)}));
}

std::size_t BucketBatcher::steps_per_epoch() const {
  return (seqs_.size() + std::size_t(step_) - 1) / std::size_t(step_);
}

void BucketBatcher::begin_epoch(Rng& rng) {
  std::iota(order_.begin(), order_.end(), 0);
  rng.shuffle(order_);
  if (step_ > 1) groups_ = bucket_batches(seqs_, ties_, order_, step_, rng);
}

const Batch& BucketBatcher::batch(std::size_t k, int part) {
  if (step_ == 1) return singles_[std::size_t(order_[k])];
  const std::vector<int>& group = groups_[k];
  if (split_.whole()) {
    built_ = pack_(group, group);
    return built_;
  }
  // This rank's share, every N-th sequence of the length-sorted batch, then
  // part `part` of K runs of neighbours in it: sequences [part*n/K, (part+1)*n/K).
  const std::size_t N = std::size_t(split_.ranks), K = std::size_t(split_.accumulate);
  const std::size_t n = group.size() / N + (std::size_t(split_.rank) < group.size() % N ? 1 : 0);
  const std::size_t from = std::size_t(part) * n / K, to = (std::size_t(part) + 1) * n / K;
  mine_.clear();
  for (std::size_t i = from; i < to; ++i) mine_.push_back(group[i * N + std::size_t(split_.rank)]);
  built_ = pack_(mine_, group);
  built_.global_B = int(group.size());
  return built_;
}

PairBatcher::PairBatcher(const std::vector<std::vector<int>>& src, const std::vector<std::vector<int>>& tgt, int batch,
                         BatchSplit split, int bos, int eos)
    : BucketBatcher(src, batch, split, [&src, &tgt, bos, eos](const std::vector<int>& which, const std::vector<int>& step) {
        Batch b = make_pair_batch(src, tgt, which, bos, eos);
        if (which.size() != step.size())
          for (const int i : step) b.global_tokens += long(tgt[std::size_t(i)].size()) + 1;
        return b;
      }, &tgt) {}

StreamBatcher::StreamBatcher(const std::vector<int>& ids, int streams, int seq_len, BatchSplit split)
    : StreamBatcher(std::make_unique<TokenVector>(ids), streams, seq_len, split) {}

StreamBatcher::StreamBatcher(std::unique_ptr<TokenStream> owned, int streams, int seq_len, BatchSplit split)
    : StreamBatcher(*owned, streams, seq_len, split) {
  owned_ = std::move(owned);
}

StreamBatcher::StreamBatcher(const TokenStream& ids, int streams, int seq_len, BatchSplit split)
    : ids_(ids), B_(streams), T_(seq_len), split_(split) {
  if (B_ < 1 || T_ < 1) throw Error("--batch and --seq-len must be at least 1");
  check_split(split);
  const std::size_t G = std::size_t(step_size());
  // Stream s (of all G) reads ids[s*span .. s*span + span]: span inputs, each followed by its target.
  span_ = ids.size() > 1 ? (ids.size() - 1) / G : 0;
  per_pass_ = span_ / std::size_t(T_);
  if (per_pass_ < 1)
    throw Error("the training text (" + std::to_string(ids.size()) + " tokens) is too short for " + std::to_string(G) +
                " streams of " + std::to_string(T_) +
                (split.whole() ? " (--batch x --seq-len)" : " (--batch x processes x --accumulate, x --seq-len)"));
  b_.T = T_, b_.B = B_;
  b_.ids.resize(std::size_t(T_) * std::size_t(B_));
  b_.targets.resize(std::size_t(T_) * std::size_t(B_));
  b_.lengths.assign(std::size_t(B_), T_);
  if (!split.whole()) b_.global_B = int(G);
}

const Batch& StreamBatcher::batch(std::size_t k, int part) {
  const std::size_t pos = k * std::size_t(T_);
  // This part's streams: [first, first + B) of all G.
  const std::size_t first = (std::size_t(split_.rank) * std::size_t(split_.accumulate) + std::size_t(part)) * std::size_t(B_);
  window_.resize(std::size_t(T_) + 1);
  for (int s = 0; s < B_; ++s) {
    ids_.read((first + std::size_t(s)) * span_ + pos, window_.size(), window_.data());
    for (int t = 0; t < T_; ++t) {
      b_.ids[std::size_t(t) * std::size_t(B_) + std::size_t(s)] = window_[std::size_t(t)];
      b_.targets[std::size_t(t) * std::size_t(B_) + std::size_t(s)] = window_[std::size_t(t) + 1];
    }
  }
  b_.continues = k > 0;
  b_.group = part;
  return b_;
}

template class ManyToOne<float>;
template class ManyToOne<double>;
template class ManyToMany<float>;
template class ManyToMany<double>;
template Metrics evaluate_many_to_one<float>(const Model<float>&, const EncodedSet&, std::vector<std::vector<double>>*);
template Metrics evaluate_many_to_one<double>(const Model<double>&, const EncodedSet&, std::vector<std::vector<double>>*);
template Metrics evaluate_many_to_many<float>(const Model<float>&, const TokenStream&, int);
template Metrics evaluate_many_to_many<double>(const Model<double>&, const TokenStream&, int);

}  // namespace recur
