// Private to the cells: (B, k*H) blocks of a step seen as row-major arrays, so
// the gate math is whole-block array expressions that Eigen vectorizes.
#pragma once

#include "recur/tensor.hpp"

namespace recur {
namespace cells {

template <class T>
using Rows = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
template <class T>
using ConstRows = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

}  // namespace cells
}  // namespace recur
