//! What a tooltip, a tile or the selection strip says about an item: its name, class,
//! metadata values and label.

use super::neighbors::ItemInfo;
use crate::dataset::{ColumnValues, Images, ItemId};
use crate::viewer::labels::Labels;
use crate::viewer::state::{ColorState, Store};

/// File name (or "#index") and the values a tooltip or tile shows.
pub(super) fn item_info(
    store: &Store,
    color: &ColorState,
    labels: &Labels,
    item: ItemId,
) -> ItemInfo {
    let data = &store.data;
    let mut title = format!("#{}", item.0);
    if let Images::Files(files) = &data.images
        && let Some(name) = files.paths.get(item.index()).and_then(|p| p.file_name())
    {
        title = format!("#{} · {}", item.0, name.to_string_lossy());
    }
    let value = color.coloring.describe(item);
    ItemInfo {
        title,
        value,
        value_name: color.source.label(),
        color: color.coloring.color_of(item, &[]),
        details: item_details(data, item),
        label: labels
            .state
            .get(item)
            .map(|l| (l.to_owned(), labels.color(l))),
    }
}

/// The class and the first metadata values of an item, as (name, value) rows. A "label" or
/// "class" column that only repeats the item's class is left out: a TensorBoard metadata file
/// is both the classes and a column, and the tooltip would list the value twice.
fn item_details(data: &crate::dataset::Dataset, item: ItemId) -> Vec<(String, String)> {
    let mut details = Vec::new();
    let class = data
        .classes
        .as_ref()
        .map(|classes| classes.labels.name_of(item).to_owned());
    if let Some(class) = &class {
        details.push(("class".to_owned(), class.clone()));
    }
    if let Some(meta) = &data.metadata {
        let mut shown = 0;
        for column in &meta.columns {
            if shown == 6 {
                break;
            }
            let value = match &column.values {
                ColumnValues::Numeric(v) => format!("{}", v[item.index()]),
                ColumnValues::Categorical(c) => c.name_of(item).to_owned(),
            };
            let names_the_class = matches!(
                column.name.to_ascii_lowercase().as_str(),
                "label" | "labels" | "class" | "classes"
            );
            if names_the_class && class.as_ref() == Some(&value) {
                continue;
            }
            details.push((column.name.clone(), value));
            shown += 1;
        }
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::metadata::{Column, Metadata};
    use crate::dataset::{Categorical, ClassSource, Classes, Dataset, Features};

    fn data(label_column: &[&str]) -> Dataset {
        let n = label_column.len();
        Dataset {
            name: "t".into(),
            features: Features::new(n, 1, vec![0.0; n], "float32", "t.npy", "t.npy")
                .expect("features"),
            images: Images::None,
            classes: Some(Classes {
                labels: Categorical::from_strings(&["cat", "dog"]),
                source: ClassSource::BuiltIn,
            }),
            metadata: Some(Metadata {
                columns: vec![
                    Column {
                        name: "label".into(),
                        values: ColumnValues::Categorical(Categorical::from_strings(label_column)),
                    },
                    Column {
                        name: "score".into(),
                        values: ColumnValues::Numeric(vec![0.5, 2.0]),
                    },
                ],
            }),
        }
    }

    #[test]
    fn a_label_column_repeating_the_class_is_listed_once() {
        let same = data(&["cat", "dog"]);
        assert_eq!(
            item_details(&same, ItemId(1)),
            vec![
                ("class".to_owned(), "dog".to_owned()),
                ("score".to_owned(), "2".to_owned())
            ]
        );
        // A label column that says something else is kept.
        let other = data(&["cat", "wolf"]);
        assert_eq!(
            item_details(&other, ItemId(1)),
            vec![
                ("class".to_owned(), "dog".to_owned()),
                ("label".to_owned(), "wolf".to_owned()),
                ("score".to_owned(), "2".to_owned())
            ]
        );
    }
}
