# Golden values of R's cv.glmnet for tests/test_selection.py::test_cv_glmnet_golden.
#
# Regenerate (Debian packages r-base-core and r-cran-glmnet; glmnet 4.1-6 made the stored file):
#     cd tests/golden/cv_glmnet && Rscript make_cv_glmnet.R
#
# Inputs, written once by Python and stored beside this script:
#   data.csv   180 rows: features x0..x5 and labels y from tests/helpers.py
#              make_data(n=180, p=6, K=3, seed=31, scale=0.5) (rounded to 6 decimals), and
#              foldid: a random permutation of rep(1:5) (numpy default_rng(31))
#   lambda.csv the 20-alpha grid of mnlogit.regularization_path on those data
# The same objective as mnlogit's: mean multinomial log loss + lambda * L1 on all K rows,
# intercepts unpenalized, no standardization; solved to thresh = 1e-14 with the path's
# early stop switched off (fdev = 0) so that every lambda is fitted in every fold.
suppressMessages(library(glmnet))
data <- read.csv("data.csv")
lambda <- read.csv("lambda.csv")$lambda
X <- as.matrix(data[, paste0("x", 0:5)])
glmnet.control(fdev = 0)
fit <- cv.glmnet(X, factor(data$y), family = "multinomial", lambda = lambda,
                 foldid = data$foldid, standardize = FALSE, thresh = 1e-14, maxit = 1e7,
                 type.measure = "deviance", grouped = TRUE)
out <- data.frame(lambda = fit$lambda, cvm = fit$cvm, cvsd = fit$cvsd, nzero = fit$nzero)
write.csv(out, "cv_glmnet.csv", row.names = FALSE)
writeLines(sprintf("%.17g", c(fit$lambda.min, fit$lambda.1se)), "chosen.txt")
cat(sprintf("glmnet %s\n", as.character(packageVersion("glmnet"))))
