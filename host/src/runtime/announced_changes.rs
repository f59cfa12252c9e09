//! The changes one call into a plugin announced through `observe.changed`
//! (RFC 7641 §4.2), gathered while the call runs and published once it
//! returns: a plugin that calls `changed` a million times in one call causes
//! one notification, and costs the host a flag per call, not an event.

/// Per path of the plugin's, whether the current call announced a change
/// (and whether any announcement was important); plus the path the call is
/// rendering for observers, whose own announcements are ignored.
#[derive(Debug, Default)]
pub struct AnnouncedChanges {
    // Indexed like the plugin's paths; None: not announced.
    by_path: Vec<Option<bool>>,
    // The path being rendered for its observers: a GET that announces a
    // change of what it is rendering would otherwise start the next
    // rendering, for ever.
    rendering: Option<usize>,
    // Announcements of paths not the plugin's own, ignored.
    foreign: u32,
}

impl AnnouncedChanges {
    /// Starts a call that may announce changes of `paths` (the plugin's),
    /// rendering `rendering` for observers if it is such a call.
    pub fn start(&mut self, paths: &[String], rendering: Option<&str>) {
        self.by_path.clear();
        self.by_path.resize(paths.len(), None);
        self.rendering = rendering.and_then(|path| paths.iter().position(|p| p == path));
        self.foreign = 0;
    }

    /// Records that the call announced a change of `path`.
    pub fn announce(&mut self, paths: &[String], path: &str, important: bool) {
        let Some(index) = paths.iter().position(|p| p == path) else {
            self.foreign = self.foreign.saturating_add(1);
            return;
        };
        if self.rendering == Some(index) {
            return;
        }
        if let Some(slot) = self.by_path.get_mut(index) {
            *slot = Some(slot.unwrap_or(false) || important);
        }
    }

    /// The announced changes of the call that ended, each path once, with
    /// the number of announcements of other plugins' paths ignored.
    pub fn take<'a>(
        &'a mut self,
        paths: &'a [String],
    ) -> (impl Iterator<Item = (&'a str, bool)> + 'a, u32) {
        let foreign = std::mem::take(&mut self.foreign);
        self.rendering = None;
        let announced = self
            .by_path
            .iter_mut()
            .zip(paths)
            .filter_map(|(slot, path)| slot.take().map(|important| (path.as_str(), important)));
        (announced, foreign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Vec<String> {
        vec!["/a".to_owned(), "/b".to_owned()]
    }

    #[test]
    fn many_announcements_of_a_path_are_one_and_importance_is_kept() {
        let paths = paths();
        let mut changes = AnnouncedChanges::default();
        changes.start(&paths, None);
        for i in 0..1000 {
            changes.announce(&paths, "/a", i == 3);
        }
        changes.announce(&paths, "/elsewhere", true);
        let (announced, foreign) = changes.take(&paths);
        assert_eq!(announced.collect::<Vec<_>>(), vec![("/a", true)]);
        assert_eq!(foreign, 1);
        let (announced, foreign) = changes.take(&paths);
        assert_eq!(announced.count(), 0);
        assert_eq!(foreign, 0);
    }

    #[test]
    fn the_path_being_rendered_is_not_announced_by_its_own_rendering() {
        let paths = paths();
        let mut changes = AnnouncedChanges::default();
        changes.start(&paths, Some("/a"));
        changes.announce(&paths, "/a", true);
        changes.announce(&paths, "/b", false);
        let (announced, _) = changes.take(&paths);
        assert_eq!(announced.collect::<Vec<_>>(), vec![("/b", false)]);
        // The next call is not a rendering.
        changes.start(&paths, None);
        changes.announce(&paths, "/a", false);
        let (announced, _) = changes.take(&paths);
        assert_eq!(announced.collect::<Vec<_>>(), vec![("/a", false)]);
    }
}
