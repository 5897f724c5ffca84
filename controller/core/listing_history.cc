#include "controller/core/listing_history.h"

#include <algorithm>

namespace endpointbinder::core {

bool ListingHistory::record(std::vector<std::string> ids, MonoTime at) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  const bool changed = !lastSuccess_ || ids != ids_;
  if (changed) {
    for (const auto& old : ids_) {
      if (!std::binary_search(ids.begin(), ids.end(), old)) departed_.try_emplace(old, at);
    }
    for (const auto& id : ids) departed_.erase(id);
    ids_ = std::move(ids);
  }
  std::erase_if(departed_, [&](const auto& item) { return at - item.second > retention_; });
  lastSuccess_ = lastSuccess_ ? std::max(*lastSuccess_, at) : at;
  return changed;
}

}  // namespace endpointbinder::core
