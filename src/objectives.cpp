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
  s.value = cross_entropy_sum<T>(ws->logits, b.targets);  // the sum over the batch; the mean is over examples
  s.weight = b.B;
  s.n = b.B;
  s.correct = correct_predictions(ws->probs, b.targets);
  cross_entropy_grad<T>(ws->probs, b.targets, T(1) / T(b.B), ws->dlogits);  // mean over the batch
  model_.backward(b, *ws);
  return s;
}

template <class T>
StepLoss ManyToMany<T>::forward_backward(const Batch& b, Rng& rng) {
  if (!b.continues) {  // a new pass over the text: the streams start from zero state
    ws_.h0.clear();
    ws_.c0.clear();
  }
  model_.forward(b, ws_, &rng);
  const int TB = b.T * b.B;
  StepLoss s;
  s.value = cross_entropy_sum<T>(ws_.logits, b.targets) / double(TB);  // the step's mean; averaged over steps
  s.weight = 1;
  s.n = TB;
  cross_entropy_grad<T>(ws_.probs, b.targets, T(1) / T(TB), ws_.dlogits);
  model_.backward(b, ws_);
  // Carry the state to the next chunk; no gradient flows back across it.
  std::swap(ws_.h0, ws_.final_h);
  std::swap(ws_.c0, ws_.final_c);
  return s;
}

template <class T>
void ManyToMany<T>::carried_state(std::vector<Matrix<T>>& h, std::vector<Matrix<T>>& c) const {
  h = ws_.h0;
  c = ws_.c0;
}

template <class T>
void ManyToMany<T>::set_carried_state(const std::vector<Matrix<T>>& h, const std::vector<Matrix<T>>& c) {
  ws_.h0 = h;
  ws_.c0 = c;
}

// ---- evaluation ----------------------------------------------------------------

template <class T>
Metrics evaluate_many_to_one(const Model<T>& model, const EncodedSet& data, std::vector<std::vector<double>>* probs) {
  SerialBlas serial;  // one sequence at a time
  typename Model<T>::Workspace ws;
  Metrics m;
  m.has_accuracy = true;
  for (std::size_t i = 0; i < data.ids.size(); ++i) {
    const Batch b = make_batch(data.ids, data.targets, {int(i)});
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
Metrics evaluate_many_to_many(const Model<T>& model, const std::vector<int>& ids, int chunk) {
  SerialBlas serial;  // one stream: products too small to share between threads
  typename Model<T>::Workspace ws;
  Metrics m;
  Batch b;
  b.B = 1;
  for (std::size_t start = 0; start + 1 < ids.size(); start += std::size_t(chunk)) {
    const int len = int(std::min<std::size_t>(std::size_t(chunk), ids.size() - 1 - start));
    b.T = len;
    b.ids.assign(ids.begin() + std::ptrdiff_t(start), ids.begin() + std::ptrdiff_t(start) + len);
    b.targets.assign(ids.begin() + std::ptrdiff_t(start) + 1, ids.begin() + std::ptrdiff_t(start) + len + 1);
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
// batches are sorted by length and cut, and the batches then shuffled.
std::vector<std::vector<int>> bucket_batches(const std::vector<std::vector<int>>& seqs, std::vector<int> order,
                                             int batch, Rng& rng) {
  const std::size_t window = std::size_t(batch) * 50;
  for (std::size_t a = 0; a < order.size(); a += window) {
    const auto first = order.begin() + std::ptrdiff_t(a);
    const auto last = order.begin() + std::ptrdiff_t(std::min(order.size(), a + window));
    std::stable_sort(first, last,
                     [&](int x, int y) { return seqs[std::size_t(x)].size() < seqs[std::size_t(y)].size(); });
  }
  std::vector<std::vector<int>> out;
  for (std::size_t a = 0; a < order.size(); a += std::size_t(batch))
    out.emplace_back(order.begin() + std::ptrdiff_t(a),
                     order.begin() + std::ptrdiff_t(std::min(order.size(), a + std::size_t(batch))));
  rng.shuffle(out);
  return out;
}

}  // namespace

BucketBatcher::BucketBatcher(const EncodedSet& data, int batch) : data_(data), batch_(batch) {
  if (batch < 1) throw Error("batch size must be at least 1");
  order_.resize(data.ids.size());
  if (batch == 1)
    for (std::size_t i = 0; i < data.ids.size(); ++i) singles_.push_back(make_batch(data.ids, data.targets, {int(i)}));
}

std::size_t BucketBatcher::steps_per_epoch() const {
  return (data_.ids.size() + std::size_t(batch_) - 1) / std::size_t(batch_);
}

void BucketBatcher::begin_epoch(Rng& rng) {
  std::iota(order_.begin(), order_.end(), 0);
  rng.shuffle(order_);
  if (batch_ > 1) groups_ = bucket_batches(data_.ids, order_, batch_, rng);
}

const Batch& BucketBatcher::batch(std::size_t k) {
  if (batch_ == 1) return singles_[std::size_t(order_[k])];
  built_ = make_batch(data_.ids, data_.targets, groups_[k]);
  return built_;
}

StreamBatcher::StreamBatcher(const std::vector<int>& ids, int streams, int seq_len)
    : ids_(ids), B_(streams), T_(seq_len) {
  if (B_ < 1 || T_ < 1) throw Error("--batch and --seq-len must be at least 1");
  // Stream b reads ids[b*span .. b*span + span]: span inputs, each followed by its target.
  span_ = ids.size() > 1 ? (ids.size() - 1) / std::size_t(B_) : 0;
  per_pass_ = span_ / std::size_t(T_);
  if (per_pass_ < 1)
    throw Error("the training text (" + std::to_string(ids.size()) + " tokens) is too short for " +
                std::to_string(B_) + " streams of " + std::to_string(T_) + " (--batch x --seq-len)");
  b_.T = T_, b_.B = B_;
  b_.ids.resize(std::size_t(T_) * std::size_t(B_));
  b_.targets.resize(std::size_t(T_) * std::size_t(B_));
  b_.lengths.assign(std::size_t(B_), T_);
}

const Batch& StreamBatcher::batch(std::size_t k) {
  const std::size_t pos = k * std::size_t(T_);
  for (int t = 0; t < T_; ++t)
    for (int s = 0; s < B_; ++s) {
      const std::size_t at = std::size_t(s) * span_ + pos + std::size_t(t);
      b_.ids[std::size_t(t) * std::size_t(B_) + std::size_t(s)] = ids_[at];
      b_.targets[std::size_t(t) * std::size_t(B_) + std::size_t(s)] = ids_[at + 1];
    }
  b_.continues = k > 0;
  return b_;
}

template class ManyToOne<float>;
template class ManyToOne<double>;
template class ManyToMany<float>;
template class ManyToMany<double>;
template Metrics evaluate_many_to_one<float>(const Model<float>&, const EncodedSet&, std::vector<std::vector<double>>*);
template Metrics evaluate_many_to_one<double>(const Model<double>&, const EncodedSet&, std::vector<std::vector<double>>*);
template Metrics evaluate_many_to_many<float>(const Model<float>&, const std::vector<int>&, int);
template Metrics evaluate_many_to_many<double>(const Model<double>&, const std::vector<int>&, int);

}  // namespace recur
