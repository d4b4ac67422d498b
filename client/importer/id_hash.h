// Deterministic entity ids for imported data: the strict decimal id parser, FNV-1a 64 of
// UTF-8 text (never 0) for ids derived from strings, and the id of a category path prefix.
// Pure functions; thread-safe.
#ifndef KG_CLIENT_IMPORTER_ID_HASH_H_
#define KG_CLIENT_IMPORTER_ID_HASH_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kg {

// FNV-1a 64 of the bytes of `text` (offset basis 14695981039346656037, prime
// 1099511628211); a result of 0 becomes 1, since 0 is never a valid id.
uint64_t HashId(absl::string_view text);

// The canonical text of a category path prefix: segments[0..depth) joined with " > ".
// Requires 1 <= depth <= segments.size().
std::string CategoryPathText(const std::vector<std::string>& segments, size_t depth);

// HashId(CategoryPathText(segments, depth)): equal paths give equal ids in every file,
// whatever separator the file used.
uint64_t CategoryPathId(const std::vector<std::string>& segments, size_t depth);

// Strips white space at both ends: ASCII white space (space, \t, \n, \v, \f, \r) and
// U+00A0 (no-break space, common in scraped catalogues).
absl::string_view TrimSpaces(absl::string_view text);

// The normal form of a name used for an id (e.g. a brand): TrimSpaces, every run of inner
// white space (as above) becomes one space, ASCII letters become lower case.
std::string NormalizeName(absl::string_view text);

// Parses a decimal id: ASCII digits only (no sign, no spaces), 1..18446744073709551615.
// Returns INVALID_ARGUMENT saying why otherwise.
absl::StatusOr<uint64_t> ParseId(absl::string_view text);

}  // namespace kg

#endif  // KG_CLIENT_IMPORTER_ID_HASH_H_
