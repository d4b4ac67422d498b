#include "fuzz/fuzz_util.h"

#include <cstdio>
#include <cstdlib>

#include "client/importer/record_check.h"
#include "proto/jsonl.h"
#include "server/graph/entity_codec.h"
#include "server/partition/convert.h"

namespace kg::fuzz {

void CheckFailed(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", file, line, condition, message.c_str());
  std::abort();
}

absl::Status ServerValidates(const v1::ImportRecord& record) {
  const int64_t now = NowMs();
  if (record.has_edge()) {
    v1::Edge edge;
    return ValidateEdgeProto(record.edge(), "edge", now, &edge);
  }
  EntityKey key;
  EntityData data;
  absl::Status s = EntityFromProto(record.entity(), "entity", now, &key, &data);
  if (!s.ok()) return s;
  const std::string bytes = EncodeEntity(data);
  EntityData decoded;
  KG_FUZZ_CHECK(DecodeEntity(bytes, &decoded).ok(), "an encoded entity does not decode");
  KG_FUZZ_CHECK(EncodeEntity(decoded) == bytes, "the entity encoding is not a round trip");
  v1::Entity back;
  EntityToProto(key, decoded, ReadMask(), &back);
  v1::Entity expected = record.entity();
  if (expected.update_time_ms() == 0) expected.set_update_time_ms(now);
  KG_FUZZ_CHECK(DeterministicBytes(back) == DeterministicBytes(expected),
                "a stored entity reads back different: " + ToJsonLine(record));
  return s;
}

void CheckImportable(const std::vector<v1::ImportRecord>& records, absl::string_view what) {
  for (const v1::ImportRecord& record : records) {
    absl::Status checked = CheckRecord(record);
    KG_FUZZ_CHECK(checked.ok(), std::string(what) + " emitted a record its own check refuses (" +
                                    std::string(checked.message()) + "): " + ToJsonLine(record));
    absl::Status server = ServerValidates(record);
    KG_FUZZ_CHECK(server.ok(), std::string(what) + " emitted a record the server refuses (" +
                                   std::string(server.message()) + "): " + ToJsonLine(record));
  }
}

std::pair<absl::string_view, absl::string_view> SplitAtNul(absl::string_view input) {
  const size_t nul = input.find('\0');
  if (nul == absl::string_view::npos) return {input, absl::string_view()};
  return {input.substr(0, nul), input.substr(nul + 1)};
}

}  // namespace kg::fuzz
