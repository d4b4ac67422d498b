#include "server/frontend/cluster.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kg {

absl::StatusOr<std::vector<uint32_t>> ParsePartitionList(absl::string_view list,
                                                         uint32_t partition_count) {
  std::vector<uint32_t> out;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    std::vector<absl::string_view> range = absl::StrSplit(part, absl::MaxSplits('-', 1));
    uint32_t lo = 0, hi = 0;
    if (!absl::SimpleAtoi(range[0], &lo) ||
        !absl::SimpleAtoi(range.size() == 2 ? range[1] : range[0], &hi) || hi < lo) {
      return absl::InvalidArgumentError(absl::StrCat("bad partition \"", part, "\""));
    }
    if (hi >= partition_count) {
      return absl::InvalidArgumentError(
          absl::StrCat("partition ", hi, " out of range 0..", partition_count - 1));
    }
    for (uint32_t p = lo; p <= hi; ++p) out.push_back(p);
  }
  if (out.empty()) return absl::InvalidArgumentError("empty partition list");
  return out;
}

absl::StatusOr<ClusterConfig> ParseClusterConfig(absl::string_view text,
                                                 absl::string_view source_name) {
  ClusterConfig config;
  std::vector<int> owner_line;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    size_t hash = line.find('#');
    if (hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (words.empty()) continue;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ":", line_no, ": ", what));
    };
    if (words[0] == "partitions") {
      if (config.partition_count != 0) return error("\"partitions\" given twice");
      if (words.size() != 2 || !absl::SimpleAtoi(words[1], &config.partition_count) ||
          config.partition_count == 0 || config.partition_count > 4096) {
        return error("expected \"partitions N\" with 1 <= N <= 4096");
      }
      owner_line.assign(config.partition_count, 0);
    } else if (words[0] == "server") {
      if (config.partition_count == 0) return error("\"partitions N\" must come first");
      if (words.size() != 3) return error("expected \"server HOST:PORT PARTITIONS\"");
      auto parts = ParsePartitionList(words[2], config.partition_count);
      if (!parts.ok()) return error(parts.status().message());
      for (uint32_t p : *parts) {
        if (owner_line[p] != 0) {
          return error(absl::StrCat("partition ", p, " already hosted (line ", owner_line[p], ")"));
        }
        owner_line[p] = line_no;
      }
      config.servers.push_back({std::string(words[1]), std::move(*parts)});
    } else {
      return error(absl::StrCat("unknown directive \"", words[0], "\""));
    }
  }
  if (config.partition_count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": no \"partitions N\" line"));
  }
  for (uint32_t p = 0; p < config.partition_count; ++p) {
    if (owner_line[p] == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ": partition ", p, " is hosted by no server"));
    }
  }
  return config;
}

absl::StatusOr<ClusterConfig> ReadClusterFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read cluster file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ParseClusterConfig(text.str(), path);
}

Router::Router(std::vector<std::unique_ptr<PartitionClient>> clients)
    : clients_(std::move(clients)) {}

}  // namespace kg
