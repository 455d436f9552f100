//! The domain model: who inspects whom, for what, on which legal basis.

pub mod catalogue;
pub mod department;
pub mod directory;
pub mod enterprise;
pub mod ids;
pub mod task;
pub mod uscc;

pub use catalogue::{AnswerType, CheckPoint, InspectionMatter};
pub use department::{Department, Inspector};
pub use directory::{Directory, DirectoryData, DirectoryError, SAMPLE_DIRECTORY_JSON};
pub use enterprise::{CreditGrade, Enterprise, GeoPoint};
pub use ids::{CheckPointId, DepartmentId, IdError, InspectorId, MatterId};
pub use task::{FindingToRecheck, Task, TaskCode, TaskDraft, TaskError, TaskSource, TimeWindow};
pub use uscc::{Uscc, UsccError};
