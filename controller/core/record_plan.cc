#include "controller/core/record_plan.h"

#include <arpa/inet.h>

#include <algorithm>
#include <tuple>

namespace endpointbinder::core {
namespace {

constexpr std::string_view kHeritage = "heritage=endpoint-binder";
constexpr std::string_view kOwnerKey = "endpoint-binder/owner=";
constexpr std::string_view kBindingKey = "endpoint-binder/binding=";
constexpr std::string_view kInstanceKey = "endpoint-binder/instance=";
constexpr size_t kTxtStringMax = 255;

bool isLabelChar(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A set the zone holds, found by (name, type).
using SetKey = std::pair<std::string, std::string>;

struct ZoneIndex {
  std::map<SetKey, const RecordSet*> sets;      // simple sets
  std::map<std::string, std::string> specials;  // name -> "alias or routing policy <type>"
  std::set<std::string> cnames;                 // names holding a CNAME

  explicit ZoneIndex(const std::vector<RecordSet>& zone) {
    for (const auto& set : zone) {
      const auto name = lower(set.name);
      if (set.special) {
        specials.emplace(name, set.type);
        continue;
      }
      if (set.type == "CNAME") cnames.insert(name);
      sets.emplace(SetKey{name, set.type}, &set);
    }
  }
  const RecordSet* find(const std::string& name, const std::string& type) const {
    auto it = sets.find({name, type});
    return it == sets.end() ? nullptr : it->second;
  }
};

// Our companion at `name` (the first value that parses as ours), with the set holding it.
struct Companion {
  const RecordSet* set = nullptr;
  std::optional<RecordOwner> owner;  // ours (this controller id), any binding
  bool foreignValues = false;        // TXT values that are not ours (another controller)
};

Companion findCompanion(const ZoneIndex& zone, const std::string& recordName,
                        const std::string& type, const std::string& controllerId) {
  Companion out;
  out.set = zone.find(companionName(recordName, type), "TXT");
  if (!out.set) return out;
  for (const auto& value : out.set->values) {
    auto owner = parseOwnerTxt(value);
    if (owner && owner->controllerId == controllerId) {
      if (!out.owner) out.owner = std::move(owner);
    } else {
      out.foreignValues = true;
    }
  }
  return out;
}

RecordSet recordSet(const RecordPlanInput& in, const std::string& name, const std::string& value) {
  return RecordSet{name, in.type, in.ttl, {value}, false};
}

RecordSet companionSet(const RecordPlanInput& in, const std::string& name,
                       const std::string& instanceId) {
  return RecordSet{companionName(name, in.type),
                   "TXT",
                   in.ttl,
                   {ownerTxtValue({in.controllerId, in.binding, instanceId})},
                   false};
}

// An owned name: our companion (this binding, or one we may adopt) and maybe its set.
struct Owned {
  const RecordSet* set = nullptr;        // the A/AAAA/PTR set; null for an orphan companion
  const RecordSet* companion = nullptr;  // the TXT set
  RecordOwner owner;
};

}  // namespace

const char* recordActionName(RecordAction action) {
  switch (action) {
    case RecordAction::kCreate:
      return "CREATE";
    case RecordAction::kUpsert:
      return "UPSERT";
    case RecordAction::kDelete:
      return "DELETE";
  }
  return "UPSERT";
}

const char* recordHoldName(RecordHold hold) {
  switch (hold) {
    case RecordHold::kWithinGracePeriod:
      return "WithinGracePeriod";
    case RecordHold::kSourceFailing:
      return "SourceFailing";
    case RecordHold::kPruneDisabled:
      return "PruneDisabled";
    case RecordHold::kMinRecords:
      return "MinRecords";
    case RecordHold::kMaxDeletions:
      return "MaxDeletionsPerSync";
    case RecordHold::kInstanceStillListed:
      return "InstanceStillListed";
  }
  return "Unknown";
}

const char* recordConflictReasonName(RecordConflictReason reason) {
  switch (reason) {
    case RecordConflictReason::kForeignRecord:
      return "ForeignRecord";
    case RecordConflictReason::kOwnedByBinding:
      return "OwnedByBinding";
    case RecordConflictReason::kSharedName:
      return "SharedName";
  }
  return "Unknown";
}

std::string sanitizeLabel(std::string_view raw) {
  std::string out;
  bool dash = false;
  for (unsigned char c : lower(raw)) {
    if (isLabelChar(c)) {
      if (dash && !out.empty()) out.push_back('-');
      dash = false;
      out.push_back(static_cast<char>(c));
    } else {
      dash = true;  // '-' and everything else: one separator, never leading or trailing
    }
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string reverseName(std::string_view address) {
  const std::string text(address);
  unsigned char bytes[16];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) {
    return std::to_string(bytes[3]) + "." + std::to_string(bytes[2]) + "." +
           std::to_string(bytes[1]) + "." + std::to_string(bytes[0]) + ".in-addr.arpa.";
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 15; i >= 0; --i) {
      out += kHex[bytes[i] & 0xF];
      out += '.';
      out += kHex[bytes[i] >> 4];
      out += '.';
    }
    return out + "ip6.arpa.";
  }
  return {};
}

std::string ownerTxtValue(const RecordOwner& owner) {
  const std::string text = std::string(kHeritage) + "," + std::string(kOwnerKey) +
                           owner.controllerId + "," + std::string(kBindingKey) + owner.binding +
                           "," + std::string(kInstanceKey) + owner.instanceId;
  // One TXT character-string holds at most 255 characters: longer values are split into
  // several quoted strings, which DNS (and parseOwnerTxt) joins.
  std::string out;
  for (size_t pos = 0; pos < text.size(); pos += kTxtStringMax) {
    if (!out.empty()) out += ' ';
    out += '"' + text.substr(pos, kTxtStringMax) + '"';
  }
  return out;
}

std::optional<RecordOwner> parseOwnerTxt(std::string_view value) {
  // Join the value's quoted character-strings ("a" "b" -> ab); an unquoted value is taken as
  // it is. Our values never contain quotes or backslashes, so none are unescaped.
  std::string text;
  if (!value.empty() && value.front() == '"') {
    size_t pos = 0;
    while (pos < value.size()) {
      if (value[pos] == ' ') {
        ++pos;
        continue;
      }
      if (value[pos] != '"') return std::nullopt;
      const size_t close = value.find('"', pos + 1);
      if (close == std::string_view::npos) return std::nullopt;
      const auto part = value.substr(pos + 1, close - pos - 1);
      if (part.find('\\') != std::string_view::npos) return std::nullopt;
      text += part;
      pos = close + 1;
    }
  } else {
    text = std::string(value);
  }
  // Exactly: heritage first, then each of our three keys once, nothing else.
  std::vector<std::string_view> items;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    items.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (items.size() != 4 || items[0] != kHeritage) return std::nullopt;
  RecordOwner owner;
  const std::pair<std::string_view, std::string*> fields[] = {{kOwnerKey, &owner.controllerId},
                                                              {kBindingKey, &owner.binding},
                                                              {kInstanceKey, &owner.instanceId}};
  for (size_t i = 0; i < 3; ++i) {
    if (!items[i + 1].starts_with(fields[i].first)) return std::nullopt;
    *fields[i].second = std::string(items[i + 1].substr(fields[i].first.size()));
  }
  if (owner.controllerId.empty() || owner.binding.empty()) return std::nullopt;
  return owner;
}

bool validOwnerText(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    if (c <= ' ' || c >= 0x7f || c == ',' || c == '"' || c == '\\' || c == '=') return false;
  }
  return true;
}

std::string companionName(std::string_view recordName, std::string_view type) {
  return "_eb-" + lower(type) + "." + std::string(recordName);
}

RecordPlan planRecords(const RecordPlanInput& in, const RecordMemory& memory) {
  RecordPlan plan;
  const ZoneIndex zone(in.zone);

  // Candidates by name, each name's instances sorted by id (the tie-break), one per instance.
  std::map<std::string, std::vector<const RecordCandidate*>> byName;
  for (const auto& candidate : in.candidates) {
    if (candidate.type != in.type) continue;
    auto& list = byName[lower(candidate.name)];
    list.push_back(&candidate);
  }
  for (auto& [name, list] : byName) {
    std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) {
      return std::tie(a->instanceId, a->value) < std::tie(b->instanceId, b->value);
    });
    list.erase(
        std::unique(list.begin(), list.end(),
                    [](const auto* a, const auto* b) { return a->instanceId == b->instanceId; }),
        list.end());
  }

  // Owned names: our companion, for this binding or one we may adopt. Companions are found
  // from the managed type's sets and from the companions themselves (an orphan companion
  // whose set someone deleted is still ours).
  std::map<std::string, Owned> owned;
  std::map<std::string, RecordConflict> blocked;  // name -> why it is not ours
  const std::string prefix = companionName("", in.type);
  auto consider = [&](const std::string& name) {
    if (owned.contains(name) || blocked.contains(name)) return;
    const auto companion = findCompanion(zone, name, in.type, in.controllerId);
    const auto* set = zone.find(name, in.type);
    const auto companionAt = companionName(name, in.type);
    // Anything at the companion's name that is not purely ours makes the name foreign: its
    // sets are someone else's, and writing our companion there would fail or clobber them.
    if ((companion.set && (companion.foreignValues || !companion.owner)) ||
        zone.cnames.contains(companionAt) || zone.specials.contains(companionAt)) {
      blocked[name] = {name, "", RecordConflictReason::kForeignRecord,
                       "the ownership name " + companionAt + " holds records that are not ours"};
      return;
    }
    if (companion.owner) {
      const bool mine = companion.owner->binding == in.binding;
      // Another binding's records are adopted only where this binding wants the name, and
      // only once that binding is confirmed gone; otherwise they are not ours to touch.
      if (mine ||
          (in.adoptableBindings.contains(companion.owner->binding) && byName.contains(name))) {
        owned[name] = Owned{set, companion.set, *companion.owner};
        return;
      }
      blocked[name] = {name, "", RecordConflictReason::kOwnedByBinding,
                       "owned by binding " + companion.owner->binding};
      return;
    }
    if (set) {
      blocked[name] = {name, "", RecordConflictReason::kForeignRecord,
                       in.type + " set without an ownership record (" + companionAt + ")"};
    }
  };
  for (const auto& [key, set] : zone.sets) {
    if (key.second == in.type) consider(key.first);
    if (key.first.starts_with(prefix)) consider(key.first.substr(prefix.size()));
  }
  for (const auto& [name, type] : zone.specials) {
    if (name.starts_with(prefix)) consider(name.substr(prefix.size()));
  }

  std::set<std::string> listedIds;
  for (const auto& candidate : in.candidates) listedIds.insert(candidate.instanceId);

  auto unwantedSince = [&](const std::string& name, const std::string& instanceId) {
    MonoTime since = in.now;
    if (auto it = memory.unwantedSince.find(name); it != memory.unwantedSince.end()) {
      since = std::min(since, it->second);
    }
    plan.memory.unwantedSince[name] = since;  // what this binding itself saw
    if (auto it = in.instanceGoneSince.find(instanceId);
        it != in.instanceGoneSince.end() && !listedIds.contains(instanceId)) {
      since = std::min(since, it->second);
    }
    return since;
  };
  auto noteDeadline = [&](MonoTime at) {
    if (!plan.nextDeadline || at < *plan.nextDeadline) plan.nextDeadline = at;
  };
  auto write = [&](RecordAction setAction, const std::string& name, const RecordCandidate& who,
                   const Owned* current) {
    plan.changes.push_back({setAction, recordSet(in, name, who.value)});
    plan.changes.push_back(
        {current && current->companion ? RecordAction::kUpsert : RecordAction::kCreate,
         companionSet(in, name, who.instanceId)});
  };

  // Wanted names.
  for (const auto& [name, candidates] : byName) {
    ++plan.desired;
    auto sharedWith = [&](const RecordCandidate* winner, const std::string& detail) {
      for (const auto* other : candidates) {
        if (other == winner) continue;
        plan.conflicts.push_back(
            {name, other->instanceId, RecordConflictReason::kSharedName, detail});
      }
    };
    if (auto b = blocked.find(name); b != blocked.end()) {
      ++plan.missing;
      for (const auto* c : candidates) {
        auto conflict = b->second;
        conflict.instanceId = c->instanceId;
        plan.conflicts.push_back(conflict);
      }
      continue;
    }
    if (zone.cnames.contains(name) || zone.specials.contains(name)) {
      ++plan.missing;
      const std::string what =
          zone.cnames.contains(name)
              ? "a CNAME set at the name"
              : "an alias or routing-policy " + zone.specials.at(name) + " set at the name";
      for (const auto* c : candidates) {
        plan.conflicts.push_back({name, c->instanceId, RecordConflictReason::kForeignRecord, what});
      }
      continue;
    }
    auto o = owned.find(name);
    if (o == owned.end()) {  // a new name: the smallest instance id gets it
      ++plan.missing;
      const auto* winner = candidates.front();
      write(RecordAction::kCreate, name, *winner, nullptr);
      sharedWith(winner, "the name goes to " + winner->instanceId + " (smallest instance id)");
      continue;
    }
    const Owned& current = o->second;
    const RecordCandidate* holder = nullptr;
    for (const auto* c : candidates) {
      if (c->instanceId == current.owner.instanceId) holder = c;
    }
    if (holder) {
      const bool valueOk = current.set && current.set->values == std::vector{holder->value} &&
                           current.set->ttl == in.ttl;
      const bool companionOk = current.owner.binding == in.binding;
      if (valueOk && companionOk) {
        ++plan.present;
      } else if (valueOk) {
        ++plan.present;  // adoption: only the companion is rewritten
        plan.changes.push_back({RecordAction::kUpsert, companionSet(in, name, holder->instanceId)});
      } else {
        ++plan.missing;
        write(current.set ? RecordAction::kUpsert : RecordAction::kCreate, name, *holder, &current);
      }
      sharedWith(holder, "held by " + holder->instanceId);
      continue;
    }
    // The holder wants this name no more: it passes on once the holder's grace is over.
    ++plan.missing;
    const auto since = unwantedSince(name, current.owner.instanceId);
    const bool due = in.leaving.contains(current.owner.instanceId) || in.now - since >= in.grace;
    if (due && in.sourceUsable) {
      const auto* winner = candidates.front();
      write(current.set ? RecordAction::kUpsert : RecordAction::kCreate, name, *winner, &current);
      sharedWith(winner, "the name passed to " + winner->instanceId);
      plan.memory.unwantedSince.erase(name);
      continue;
    }
    HeldRecord held{name, due ? RecordHold::kSourceFailing : RecordHold::kWithinGracePeriod, {}};
    if (!due) {
      held.until = since + in.grace;
      noteDeadline(*held.until);
    }
    plan.held.push_back(held);
    sharedWith(nullptr, "held by " + current.owner.instanceId + " until its grace period ends");
  }

  // Owned names no longer wanted.
  struct Deletable {
    MonoTime since;
    std::string name;
  };
  std::vector<Deletable> deletable;
  int ownedSets = 0;
  for (const auto& [name, current] : owned) {
    if (current.set) ++ownedSets;
    if (byName.contains(name)) continue;
    if (current.set) ++plan.unexpected;
    if (in.listedWithoutRecord.contains(current.owner.instanceId)) {
      // Its instance is still listed but gives no record right now (no usable name, no
      // address, a VPC the zone lacks): a disallowed picture, not a departure.
      plan.held.push_back({name, RecordHold::kInstanceStillListed, {}});
      continue;
    }
    const auto since = unwantedSince(name, current.owner.instanceId);
    const bool due = in.leaving.contains(current.owner.instanceId) || in.now - since >= in.grace;
    if (!in.prune) {
      plan.held.push_back({name, RecordHold::kPruneDisabled, {}});
    } else if (!due) {
      plan.held.push_back({name, RecordHold::kWithinGracePeriod, since + in.grace});
      noteDeadline(since + in.grace);
    } else if (!in.sourceUsable) {
      plan.held.push_back({name, RecordHold::kSourceFailing, {}});
    } else {
      deletable.push_back({since, name});
    }
  }
  std::sort(deletable.begin(), deletable.end(), [](const auto& a, const auto& b) {
    return std::tie(a.since, a.name) < std::tie(b.since, b.name);
  });
  int floorLeft = std::max(0, ownedSets - std::max(0, in.minRecords));
  int capLeft = std::max(0, in.maxDeletions);
  for (const auto& d : deletable) {
    const Owned& current = owned.at(d.name);
    if (current.set) {
      if (floorLeft == 0) {
        plan.held.push_back({d.name, RecordHold::kMinRecords, {}});
        continue;
      }
      if (capLeft == 0) {
        plan.held.push_back({d.name, RecordHold::kMaxDeletions, {}});
        continue;
      }
      --floorLeft;
      --capLeft;
      plan.changes.push_back({RecordAction::kDelete, *current.set});
    }
    if (current.companion) plan.changes.push_back({RecordAction::kDelete, *current.companion});
    plan.memory.unwantedSince.erase(d.name);
  }
  std::sort(plan.held.begin(), plan.held.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return plan;
}

std::vector<std::vector<RecordChange>> changeUnits(const std::vector<RecordChange>& changes) {
  std::vector<std::vector<RecordChange>> units;
  for (size_t i = 0; i < changes.size();) {
    size_t end = i + 1;
    if (end < changes.size() && changes[end].set.type == "TXT" &&
        changes[end].set.name == companionName(changes[i].set.name, changes[i].set.type)) {
      ++end;
    }
    units.emplace_back(changes.begin() + static_cast<std::ptrdiff_t>(i),
                       changes.begin() + static_cast<std::ptrdiff_t>(end));
    i = end;
  }
  return units;
}

std::vector<std::vector<RecordChange>> splitChangeBatches(const std::vector<RecordChange>& changes,
                                                          ChangeBatchLimits limits) {
  std::vector<std::vector<RecordChange>> batches;
  int records = 0;
  int characters = 0;
  auto cost = [](const RecordChange& change, int& recordCount, int& charCount) {
    const int factor = change.action == RecordAction::kUpsert ? 2 : 1;
    recordCount += factor * static_cast<int>(change.set.values.size());
    for (const auto& v : change.set.values) charCount += factor * static_cast<int>(v.size());
  };
  for (size_t i = 0; i < changes.size();) {
    // A set and its companion right after it form one unit.
    size_t end = i + 1;
    if (end < changes.size() && changes[end].set.type == "TXT" &&
        changes[end].set.name == companionName(changes[i].set.name, changes[i].set.type)) {
      ++end;
    }
    int unitRecords = 0;
    int unitChars = 0;
    for (size_t k = i; k < end; ++k) cost(changes[k], unitRecords, unitChars);
    if (batches.empty() || records + unitRecords > limits.maxRecords ||
        characters + unitChars > limits.maxCharacters) {
      batches.emplace_back();
      records = 0;
      characters = 0;
    }
    for (size_t k = i; k < end; ++k) batches.back().push_back(changes[k]);
    records += unitRecords;
    characters += unitChars;
    i = end;
  }
  return batches;
}

}  // namespace endpointbinder::core
