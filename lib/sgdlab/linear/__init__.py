"""Mini-batch SGD with momentum on linear models: exact moment recursions and generating functions.

The numerics of part 1 of the book (Velikanov, Kuznedelev & Yarotsky, *A view of mini-batch SGD via
generating functions*, ICLR 2023), chapters ``book/generating_functions/01_derivation``,
``02_se_exactness``, ``03_convergence``, ``04_phases``, ``05_momentum`` and ``06_networks``:

- SE (spectrally expressible) recursion, vectorised over modes and over grids of (α, β, γ):
  :func:`se_loss`, per-mode :func:`transfer_matrix`;
- generating functions :func:`U_of_z`, :func:`V_of_z`, :func:`L_of_z`, their inversion
  :func:`loss_from_genfun`, the renewal form (:func:`propagators`, :func:`renewal_loss`), closed forms at
  z = 1 (:func:`U_at_one`, :func:`V_at_one`, :func:`loss_sum`);
- convergence: :func:`mode_stable` (Jury), :func:`critical_lr` α_c(β) (with ``full=True`` also the binding
  condition and the per-mode stability edge), :func:`lambda_crit`,
  :func:`effective_lr_limit`;
- power laws: :func:`power_law_modes` (with log-binned tails), :func:`asymptotic_constants`,
  :func:`loss_asymptotics`, :func:`transition_time`, :func:`local_exponent`, :func:`crossing_time`;
- optimal hyper-parameters: :func:`optimal_lr` (grid + parabola on the recursion), :func:`noise_constant`,
  :func:`optimal_noise_lr`, :func:`noise_constant_momentum_slope`, :func:`negative_momentum_condition`;
- finite data: :func:`kernel_problem`, :func:`exact_finite_loss` (the N×N recursion),
  :func:`mc_finite_loss`, :func:`mc_gaussian_loss`, :func:`eigvec_kurtosis`, :func:`relu_ntk`,
  :func:`fit_power_laws`;
- a real network: :func:`empirical_ntk_mlp` (one hidden ReLU layer, NTK parametrisation), :func:`network_outputs`,
  :func:`train_network_sgd` (``torch.optim.SGD``), :func:`linearised_sgd_paired` on the same
  :func:`batch_sequence` (torch is imported only by these).

Conventions: invalid input raises ``ValueError`` naming the parameter; divergence is a result, never an
error or NaN: ``inf`` from the divergent step on (recursions, Monte Carlo, closed forms), U(1) ≥ 1 for
:func:`U_at_one`, and ``inf`` at every step for :func:`loss_from_genfun`, whose contour inversion is only valid
where the hyper-parameters converge.

Vocabulary: ``lr`` α, ``momentum`` β, ``noise_factor`` γ (1/B i.i.d.), ``eigs`` λ_k, ``c`` the
loss-weighted initial coefficients (L_0 = ½ Σ c_k), ``mult`` multiplicities of binned modes.
"""
from ._finite import (eigvec_kurtosis, exact_finite_loss, fit_power_laws, kernel_problem, mc_finite_loss,
                      mc_gaussian_loss, relu_ntk, sd_from_kernel)
from ._ntk import batch_sequence, empirical_ntk_mlp, linearised_sgd_paired, network_outputs, train_network_sgd
from ._momentum import noise_constant, noise_constant_momentum_slope, optimal_lr, optimal_noise_lr
from ._powerlaw import (asymptotic_constants, crossing_time, local_exponent, loss_asymptotics,
                        negative_momentum_condition, power_law_modes, transition_time)
from ._se import (L_of_z, U_at_one, U_of_z, V_at_one, V_of_z, critical_lr, det_poly, effective_lr_limit,
                  lambda_crit, loss_from_genfun, loss_sum, mode_stable, noise_factor, propagators, renewal_loss,
                  se_loss, transfer_matrix)

__all__ = [
    "noise_factor", "transfer_matrix", "se_loss", "det_poly", "U_of_z", "V_of_z", "L_of_z",
    "loss_from_genfun", "mode_stable", "U_at_one", "V_at_one", "loss_sum", "critical_lr", "lambda_crit",
    "effective_lr_limit", "propagators", "renewal_loss", "power_law_modes", "asymptotic_constants", "loss_asymptotics",
    "transition_time",
    "negative_momentum_condition", "local_exponent", "crossing_time", "kernel_problem", "exact_finite_loss", "sd_from_kernel",
    "mc_gaussian_loss", "mc_finite_loss", "eigvec_kurtosis", "relu_ntk", "fit_power_laws",
    "optimal_lr", "noise_constant", "optimal_noise_lr", "noise_constant_momentum_slope",
    "empirical_ntk_mlp", "network_outputs", "train_network_sgd", "linearised_sgd_paired", "batch_sequence",
]
