"""Random-matrix theory of batch Hessians and the learning rate as a function of the batch size (part 5).

Public surface::

    from sgdlab.rmt import (
        # limiting laws (chapter "Random-matrix tools")
        semicircle_density, semicircle_stieltjes, semicircle_r_transform,
        mp_density, mp_stieltjes, mp_edges, empirical_stieltjes,
        # outliers of spiked matrices (chapters "Random-matrix tools", "The batch Hessian as a spiked matrix")
        wigner_outlier, wigner_overlap, wishart_outlier, wishart_overlap, free_addition_outlier,
        batch_hessian_outlier, goe_tridiagonal, spiked_goe_top, spiked_wishart_top,
        # learning rate versus batch size (chapters "Learning rate versus batch size", "Adaptive methods")
        max_lr_sgd, critical_batch_size, max_lr_adam, ms_threshold, ms_threshold_empirical,
        expected_top_eig, lyapunov_exponents, lyapunov_threshold,
        # exact Hessians of a small tanh network (chapter "The batch Hessian as a spiked matrix")
        TanhMLP, sample_batch_hessians, batch_hessian_fluctuation, second_order_shift, field_dependent_shift,
        # Adam versus SGD: largest usable learning rate (chapter "Adaptive methods")
        lr_sweep_least_squares, largest_usable_lr, ms_excess_ratio, ms_usable_lr, adam_usable_lr_frozen,
        # the on-the-fly SLQ learner (chapter "Spectra by SLQ and the on-the-fly learner")
        GramOperator, step_size_rules, slq_learning_rates, heavy_ball_edge_ratio, momentum_sgd_least_squares,
    )

Reference: Granziol, Zohren & Roberts, *Learning Rates as a Function of Batch Size: A Random Matrix
Theory Approach to Neural Network Training*, JMLR 2022 (arXiv 2006.09092). Formulas that are our
reconstructions (the paper's full text was not available) are flagged in the docstrings.
"""
from ._adam import (
    adam_usable_lr_frozen,
    largest_usable_lr,
    lr_sweep_least_squares,
    ms_excess_ratio,
    ms_usable_lr,
)
from ._mlp import TanhMLP, batch_hessian_fluctuation, field_dependent_shift, sample_batch_hessians, second_order_shift
from ._laws import (
    empirical_stieltjes,
    mp_density,
    mp_edges,
    mp_stieltjes,
    semicircle_density,
    semicircle_r_transform,
    semicircle_stieltjes,
)
from ._scaling import (
    critical_batch_size,
    expected_top_eig,
    lyapunov_exponents,
    lyapunov_threshold,
    max_lr_adam,
    max_lr_sgd,
    ms_threshold,
    ms_threshold_empirical,
)
from ._slq_lr import (
    GramOperator,
    heavy_ball_edge_ratio,
    momentum_sgd_least_squares,
    slq_learning_rates,
    step_size_rules,
)
from ._spiked import (
    batch_hessian_outlier,
    free_addition_outlier,
    goe_tridiagonal,
    spiked_goe_top,
    spiked_wishart_top,
    wigner_outlier,
    wigner_overlap,
    wishart_outlier,
    wishart_overlap,
)

__all__ = [
    "semicircle_density", "semicircle_stieltjes", "semicircle_r_transform",
    "mp_density", "mp_stieltjes", "mp_edges", "empirical_stieltjes",
    "wigner_outlier", "wigner_overlap", "wishart_outlier", "wishart_overlap", "free_addition_outlier",
    "batch_hessian_outlier", "goe_tridiagonal", "spiked_goe_top", "spiked_wishart_top",
    "max_lr_sgd", "critical_batch_size", "max_lr_adam", "ms_threshold", "ms_threshold_empirical",
    "expected_top_eig", "lyapunov_exponents", "lyapunov_threshold",
    "TanhMLP", "sample_batch_hessians", "batch_hessian_fluctuation", "second_order_shift", "field_dependent_shift",
    "lr_sweep_least_squares", "largest_usable_lr", "ms_excess_ratio", "ms_usable_lr", "adam_usable_lr_frozen",
    "GramOperator", "step_size_rules", "slq_learning_rates", "heavy_ball_edge_ratio", "momentum_sgd_least_squares",
]
