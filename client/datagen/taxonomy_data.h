// Static catalogue data of the sample-data generator: the 3-level category taxonomy with
// title terms, sizes and prices per leaf, and per top-level category the audience leanings
// and attribute vocabularies. Internal to client/datagen. Immutable, thread-safe.
#ifndef KG_CLIENT_DATAGEN_TAXONOMY_DATA_H_
#define KG_CLIENT_DATAGEN_TAXONOMY_DATA_H_

#include <cstddef>

namespace kg {
namespace datagen {

// How a leaf's products are sized, and how the size reads in a title.
enum class SizeKind : char {
  kNone = '-',
  kLetter = 'L',      // XS..XXL: "Size M"
  kShoe = 'S',        // EU 36..46: "Size 42"
  kKids = 'K',        // "Age 4-5"
  kVolume = 'V',      // "50 ml"
  kStorage = 'G',     // "128GB"
  kCentimetre = 'C',  // "24 cm"
  kDimensions = 'D',  // "160 x 230 cm"
  kPersons = 'P',     // "2-Person"
  kWeight = 'W',      // "500 g"
  kPack = 'N',        // "Pack of 6"
  kInch = 'I',        // "27 inch"
};

// Who a leaf's products target: 'W' women, 'M' men, 'U' unisex, '*' a mix.
struct LeafSpec {
  const char* top;
  const char* mid;
  const char* leaf;
  // Nouns used in titles, '|'-separated; the first is the SPU's generic noun.
  const char* terms;
  char size_kind;  // a SizeKind value
  char gender;
  // Median price in the catalogue's currency.
  double price;
};

struct TopSpec {
  const char* name;
  // Share of the catalogue (products, merchants, influencers) relative to the others.
  double weight;
  // Interest multipliers by buyer gender F, M, U.
  double gender[3];
  // Interest multipliers by buyer age band 18-24, 25-34, 35-44, 45-54, 55+.
  double age[5];
  // Materials used in attributes and titles, '|'-separated; "" for none.
  const char* materials;
  // Whether products carry a color.
  bool has_color;
  // Word used in influencer names and content titles, e.g. "Style".
  const char* niche_word;
  // Nouns of merchant names, '|'-separated, e.g. "Boutique|Outfitters".
  const char* merchant_nouns;
};

extern const LeafSpec kLeaves[];
extern const size_t kLeafCount;
extern const TopSpec kTops[];
extern const size_t kTopCount;

}  // namespace datagen
}  // namespace kg

#endif  // KG_CLIENT_DATAGEN_TAXONOMY_DATA_H_
