# Kenward-Roger F tests for multi-row contrasts (pbkrtest::KRmodcomp) and the full adjusted
# covariance (pbkrtest::vcovAdj), reference values for tests/inference/test_kenward_roger.py.
#
# Run from the repository root:
#   Rscript tests/inference/make_kr_reference.R
# writes tests/inference/kr_reference.json. Fits use lme4's nloptwrap with the tight
# tolerances of tests/reference (xtol_rel = 1e-12 etc.).
suppressPackageStartupMessages({
  library(lme4)
  library(pbkrtest)
  library(jsonlite)
})

data_dir <- "src/multilevel/datasets/data"
ctrl <- lmerControl(optimizer = "nloptwrap",
                    optCtrl = list(algorithm = "NLOPT_LN_BOBYQA", xtol_abs = 1e-12,
                                   ftol_abs = 1e-14, xtol_rel = 1e-12, ftol_rel = 1e-15,
                                   maxeval = 100000))

cases <- list(
  list(id = "hsb_c_three_slopes", data = "hsb",
       formula = "mathach ~ cses + meanses + catholic + (1 | school)",
       L = rbind(c(0, 1, 0, 0), c(0, 0, 1, 0), c(0, 0, 0, 1))),
  list(id = "hsb_d_interactions", data = "hsb",
       formula = "mathach ~ cses * meanses + cses * catholic + (1 + cses | school)",
       L = rbind(c(0, 0, 0, 0, 1, 0), c(0, 0, 0, 0, 0, 1))),
  list(id = "hsb_d_general_contrast", data = "hsb",
       formula = "mathach ~ cses * meanses + cses * catholic + (1 + cses | school)",
       L = rbind(c(0, 1, 0, 0, -1, 0), c(0, 0, 1, -1, 0, 0))),
  list(id = "sleepstudy_slope_both", data = "sleepstudy",
       formula = "Reaction ~ Days + (Days | Subject)",
       L = diag(2)),
  list(id = "exam_slope_both", data = "exam",
       formula = "normexam ~ standLRT + (standLRT | school)",
       L = diag(2)),
  list(id = "exam_slope_one_row", data = "exam",
       formula = "normexam ~ standLRT + (standLRT | school)",
       L = rbind(c(1, 2))),
  list(id = "penicillin_intercept", data = "penicillin",
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)",
       L = matrix(1, 1, 1)),
  # kr_singular.csv: 50 simulated rows, y = 1 + x + N(0, 1), no group effects, so the fits
  # below are singular (a variance estimated as 0); pbkrtest still uses every parameter
  list(id = "singular_intercept", data = "singular", formula = "y ~ x + (1 | g)", L = diag(2)),
  list(id = "singular_slope", data = "singular", formula = "y ~ x + (x | g)", L = diag(2)),
  list(id = "singular_crossed", data = "singular", formula = "y ~ x + (1 | g) + (1 | h)",
       L = diag(2))
)

out <- list()
for (cs in cases) {
  d <- if (cs$data == "singular") read.csv("tests/inference/kr_singular.csv") else
    read.csv(file.path(data_dir, paste0(cs$data, ".csv")))
  m <- lmer(as.formula(cs$formula), data = d, REML = TRUE, control = ctrl)
  L <- cs$L
  kr <- KRmodcomp(m, L)
  st <- kr$stats
  PhiA_full <- vcovAdj(m)
  PhiA <- as.matrix(PhiA_full)
  E <- diag(length(fixef(m)))
  df_coef <- sapply(seq_len(nrow(E)), function(i) Lb_ddf(E[i, ], vcov(m), PhiA_full))
  out[[length(out) + 1]] <- list(
    id = cs$id, data = cs$data, formula = cs$formula,
    L = unname(lapply(seq_len(nrow(L)), function(i) L[i, ])),
    beta = unname(fixef(m)),
    F = st$Fstat, ndf = st$ndf, ddf = st$ddf, F_scaling = st$F.scaling,
    p_value = st$p.value, F_unscaled = st$FstatU, p_value_unscaled = st$p.valueU,
    A1 = unname(st$aux["A1"]), A2 = unname(st$aux["A2"]),
    std_error_kenward_roger = unname(sqrt(diag(PhiA))), df_kenward_roger = unname(df_coef),
    vcov_adjusted = unname(lapply(seq_len(nrow(PhiA)), function(i) PhiA[i, ])),
    vcov = unname(lapply(seq_len(nrow(PhiA)), function(i) as.matrix(vcov(m))[i, ]))
  )
}
res <- list(
  generated_by = "tests/inference/make_kr_reference.R",
  software = list(R = R.version.string,
                  lme4 = as.character(packageVersion("lme4")),
                  pbkrtest = as.character(packageVersion("pbkrtest"))),
  cases = out)
writeLines(toJSON(res, auto_unbox = TRUE, digits = 15, pretty = TRUE),
           "tests/inference/kr_reference.json")
