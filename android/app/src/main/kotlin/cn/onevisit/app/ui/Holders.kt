package cn.onevisit.app.ui

import androidx.compose.runtime.Composable
import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import androidx.lifecycle.viewmodel.compose.viewModel
import androidx.lifecycle.viewmodel.initializer
import androidx.lifecycle.viewmodel.viewModelFactory
import kotlinx.coroutines.CoroutineScope

/** The thin androidx ViewModel around a plain state holder: it only supplies the scope and survives rotation. */
class HolderViewModel<H : Any>(create: (CoroutineScope) -> H) : ViewModel() {
    /** The state holder. */
    val holder: H = create(viewModelScope)
}

/** The state holder of a screen, kept by a ViewModel under [key]. */
@Composable
fun <H : Any> rememberHolder(key: String, create: (CoroutineScope) -> H): H {
    val vm: HolderViewModel<H> = viewModel(key = key, factory = viewModelFactory { initializer { HolderViewModel(create) } })
    return vm.holder
}
