/* search_rank.c - BM25's arithmetic (see search_rank.h). */
#include "search_rank.h"

#include <math.h>

#define RANK_K1 1.2
#define RANK_B 0.75
#define RANK_IDF_MIN 1e-6

double search_rank_idf(double total, double with)
{
  with = CLAMP(with, 0.0, total);
  double idf = log((total - with + 0.5) / (with + 0.5));
  return idf > RANK_IDF_MIN ? idf : RANK_IDF_MIN;
}

double search_rank_term(double idf, double frequency, double length, double average_length)
{
  double norm = RANK_K1 * (1.0 - RANK_B + RANK_B * length / (average_length > 0.0 ? average_length : 1.0));
  return idf * (frequency * (RANK_K1 + 1.0)) / (frequency + norm);
}

double search_rank_count(gint64 sampled, gint64 sample_max, gint64 oldest, gint64 first, gint64 last)
{
  if (sampled < sample_max || last < oldest || oldest < first) return (double)sampled;
  return (double)sampled * ((double)(last - first) + 1.0) / ((double)(last - oldest) + 1.0);
}
