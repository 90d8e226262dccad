-- registry.lua — the named datasets: where each comes from upstream (so users elsewhere can
-- fetch it), the files sprint reads and their SHA-256, the preparation settings, and the
-- paper's Table 1 row to compare against. The data files themselves are never in this repo:
-- they are looked up on the data path ($SPRINT_DATA, then ../shared/datasets beside the repo).
return {
  beauty = {
    title = "Amazon Beauty (2014, 5-core), sessions as in SPRINT §5.1.1",
    loader = "beauty-shared",
    folder = "amazon_beauty_2014_5core",
    upstream = {
      url = "http://jmcauley.ucsd.edu/data/amazon/ (reviews_Beauty_5.json.gz, meta_Beauty.json.gz)",
      citation = "He & McAuley, WWW 2016; McAuley et al., SIGIR 2015",
      terms = "McAuley lab research datasets, research use only",
      note = "the files below are byte-for-byte copies of preprocessed files from paper repositories "
        .. "(S3-Rec, P5/LLM-RecSys-ID, TiCoSeRec, LLM-Sequential-Recommendation); see the folder's "
        .. "PROVENANCE.md for commits and join rules. The upstream JSON can be read with the "
        .. "'amazon2014' loader instead.",
    },
    files = {
      ["raw/ticoserec/Beauty_item_org_rank.txt"] = "b95614189df525e1eb69dad579e84c6086468f2bb42dab894038949240307c4f",
      ["raw/ticoserec/Beauty_time_org_rank.txt"] = "4e6a6e30f9dba1985ad9adae79a891df6b403e2132f0422a6f6e88f67d1fcc75",
      ["raw/p5_llm-recsys-id/datamaps.json"] = "715ab04838ff1ba21238475ed453a89e8c30aa6214b904d27a79e4168fc7b612",
      ["raw/s3rec/Beauty_item2attributes.json"] = "129e40f67486f6877eff0f5318cfa8530ee8ac23d8b0d1de04e1bb7a2ba0b2d4",
      ["raw/llm-seqrec/item_id_to_int.json"] = "3d1a1d362c7daeddf616057fae8fa24af9d70902fdaf4631852231a9953afa50",
      ["raw/llm-seqrec/products_lookup.csv"] = "65133eca0615999df67fc5b26a93a7da762e53e613a083fd6b9e37174896d128",
    },
    prepare = {
      session_rule = "day", min_session_len = 3, min_item_support = 6, user_core = 0, item_core = 0,
      valid_quantile = 0.8, test_quantile = 0.9, filter_unseen_eval = true, min_eval_len = 2,
    },
    paper = { sessions = 7524, items = 2351, interactions = 31538, avg_len = 4.19,
              valid_sessions = 611, test_sessions = 465 },
  },

  yelp = {
    title = "Yelp (reviews dated 2019, 5-core; the S3-Rec/P5 'Yelp'), categories as item text",
    loader = "yelp-shared",
    folder = "yelp_2019_5core",
    upstream = {
      url = "https://www.yelp.com/dataset (2020 release: yelp_academic_dataset_review.json, _business.json)",
      citation = "Yelp Open Dataset; preprocessing of Zhou et al., CIKM 2020 (S3-Rec)",
      terms = "Yelp Dataset Terms of Use: non-commercial, academic use",
      note = "business names are not in these files; the 'yelp-open' loader reads the upstream JSON",
    },
    files = {
      ["raw/ticoserec/Yelp_item_org_rank.txt"] = "c192f158659e118070bf0cd2dfe4c01c15295a09ef2ada1ccadf0bab06e4c19e",
      ["raw/ticoserec/Yelp_time_org_rank.txt"] = "79b0f02a3dcbbc8799fe79725ccbba55735212e81247f7595385cb359fd95de0",
      ["derived/ticoserec_to_p5_item_ids.tsv"] = "3b6393cf13fd06a3dc67bf6e68849e8915522736060d6ef41305da4d64997b59",
      ["derived/ticoserec_to_p5_user_ids.tsv"] = "2cc119c4c6af9f501dad75f00fc9e92f2befd2be27dd1999b5681cf0ffd5711f",
      ["raw/p5_llm-recsys-id/closed_categories.json"] = "ff8477e80b82e0ff70c09e4a59926a51013b66632bac4602b453c83f60410228",
      ["raw/p5_llm-recsys-id/datamaps.json"] = "52d07e709fc00e5e75fcf993af92db68a44b10f62a9c6b06b61732ae141367d1",
      ["raw/s3rec/Yelp_item2attributes.json"] = "f25acd5e1e680e0b22fd4e3f4fb6be4b2a7461e9222610616e3e1ee6702dd58d",
    },
    prepare = {
      session_rule = "gap", gap_seconds = 86400, min_session_len = 2, min_item_support = 5,
      user_core = 0, item_core = 0, valid_quantile = 0.8, test_quantile = 0.9,
      filter_unseen_eval = true, min_eval_len = 2,
    },
    paper = { sessions = 41892, items = 8701, interactions = 152818, avg_len = 3.65 },
  },

  planted = {
    title = "Planted intents: seeded synthetic sessions mixing 1-3 hidden intents (tests, demos)",
    loader = "planted",
    generate = { n_intents = 8, items_per_intent = 40, n_sessions = 4000, min_len = 3, max_len = 10,
                 max_intents = 3, noise = 0.1, follow = 0.7, seed = 1 },
    prepare = { min_session_len = 2, min_item_support = 1, valid_quantile = 0.8, test_quantile = 0.9,
                filter_unseen_eval = true, min_eval_len = 2 },
  },
}
