# Golden values for mnlogit's lasso-family paths, from R's glmnet (Debian r-cran-glmnet).
# Regenerate:  cd tests/golden/glmnet && Rscript make_glmnet_golden.R
# Writes glmnet_data.csv (the data: y, w, x1..x8) and glmnet_paths.csv (one row per case,
# lambda, class and term). Objectives are compared in tests/test_path_glmnet.py.
suppressMessages(library(glmnet))
set.seed(20141)
n <- 150; p <- 8; K <- 3
X <- matrix(rnorm(n * p), n, p) %*% diag(c(1, 2, 0.5, 1, 3, 1, 1, 0.7))
B <- matrix(0, p, K); B[1:3, ] <- matrix(rnorm(3 * K, sd = 1.2), 3, K)
eta <- X %*% B
P <- exp(eta) / rowSums(exp(eta))
y <- apply(P, 1, function(q) sample(0:(K - 1), 1, prob = q))
w <- runif(n, 0.3, 2.5)
# penalty factors summing to p, so glmnet's rescaling to sum to nvars changes nothing
pf <- c(0, 1, 1, 1.5, 1, 1, 0.5, 1); pf <- pf * p / sum(pf)
write.csv(data.frame(y = y, w = w, X), "glmnet_data.csv", row.names = FALSE)

cases <- list(
  list(name = "lasso", alpha = 1, type = "ungrouped", weights = FALSE, pf = FALSE),
  list(name = "enet", alpha = 0.5, type = "ungrouped", weights = FALSE, pf = FALSE),
  list(name = "group", alpha = 1, type = "grouped", weights = FALSE, pf = FALSE),
  list(name = "group_enet", alpha = 0.4, type = "grouped", weights = TRUE, pf = FALSE),
  list(name = "lasso_weights_pf", alpha = 1, type = "ungrouped", weights = TRUE, pf = TRUE)
)
rows <- list()
for (cs in cases) {
  fit <- glmnet(X, factor(y), family = "multinomial", type.multinomial = cs$type,
                alpha = cs$alpha, weights = if (cs$weights) w else rep(1, n),
                penalty.factor = if (cs$pf) pf else rep(1, p),
                nlambda = 8, lambda.min.ratio = 0.02, standardize = FALSE,
                thresh = 1e-14, maxit = 1e7)
  for (l in seq_along(fit$lambda)) {
    for (k in 1:K) {
      coefs <- c(fit$a0[k, l], as.vector(fit$beta[[k]][, l]))
      rows[[length(rows) + 1]] <- data.frame(
        case = cs$name, l1_ratio = cs$alpha, penalty = cs$type,
        weights = cs$weights, pf = cs$pf, lambda_index = l, lambda = fit$lambda[l],
        class = k - 1, term = c("Intercept", paste0("x", 0:(p - 1))), coef = coefs)
    }
  }
}
out <- do.call(rbind, rows)
write.csv(out, "glmnet_paths.csv", row.names = FALSE)
cat("glmnet", as.character(packageVersion("glmnet")), "\n")
