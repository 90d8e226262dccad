return {
  backbone = "bert4rec",  -- --set
  batch_size = 256,  -- default
  dataset = "beauty",  -- --set
  dim = 64,  -- default
  dropout = 0.2,  -- default
  epochs = 200,  -- default
  eval_every = 1,  -- default
  heads = 2,  -- default
  l2 = 0.0001,  -- default
  layers = 2,  -- default
  loss = "",  -- default
  lr = 0.001,  -- default
  mask_prob = 0.2,  -- default
  mask_session_items = false,  -- default
  max_len = 50,  -- default
  metric = "NDCG@10",  -- default
  n_neg = 1,  -- default
  patience = 10,  -- default
  resume = true,  -- default
  run_dir = "/tmp/fidtest/runs-before",  -- --set
  seed = 1,  -- default
  seeds = 5,  -- default
  threads = 1,  -- --set
  tie_order = "input",  -- default
  ties = "pessimistic",  -- default
}
